// Package blobplugin holds the life cycle and the trove.FileStorage of a
// files-only storage plugin whose bytes live in a blob.Store: the plugins
// storage-file-system (blob/local) and storage-s3 (blob/s3) differ only in
// how they open their store.
//
// A Files is made with the plugin's package name (it starts error texts)
// and an Open function. Initialize calls Open once and serves the files
// role through blob.NewFileStorage; a second Initialize is a no-op.
// Shutdown closes the store (every save has been durable since it
// returned, so there is nothing to flush); later calls, and calls before
// Initialize, are ErrClosed, and so is Initialize after Shutdown. A Files is
// safe for concurrent use.
package blobplugin

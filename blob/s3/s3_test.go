package s3_test

import (
	"context"
	"testing"

	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/blobtest"
	blobs3 "github.com/trovedb/trove/blob/s3"
	"github.com/trovedb/trove/internal/testservices"
)

func openStore(t testing.TB) *blobs3.Store {
	t.Helper()
	endpoint, ak, sk, bucket := testservices.S3Bucket(t)
	s, err := blobs3.Connect(context.Background(), blobs3.Config{
		Endpoint: endpoint, AccessKeyID: ak, SecretAccessKey: sk, Bucket: bucket,
		ForcePathStyle: true, Prefix: "files/", PartSize: 5 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testservices.S3(t) // one server for every subtest
	blobtest.Run(t, func(t testing.TB) blob.Store { return openStore(t) })
}

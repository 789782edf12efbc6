package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsPeer is NATS JetStream embedded as an append-only log: nats-server
// in-process with its file store and sync always (every message is fsynced
// before it is acknowledged), the nats.go client over loopback TCP. A batch
// is 1,000 asynchronous publishes, then waiting for every acknowledgement;
// a single save is one synchronous publish. It answers no reads here.
func natsPeer() Contender {
	return Contender{
		Name: "nats jetstream", Kind: kindPeer, Persistent: true,
		About:     "embedded nats-server (file store, sync always), nats.go over loopback; async publish + wait for acks per batch",
		Available: func() error { return nil },
		Open:      openNATS,
	}
}

const natsStream = "BENCH"

func openNATS(ctx context.Context, dir string, _ *slog.Logger) (Store, error) {
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, SyncAlways: true,
		NoLog: true, NoSigs: true, MaxPayload: 8 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("bench: nats server did not start")
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(0))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("bench: nats connect: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		nc.Close()
		srv.Shutdown()
		return nil, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: natsStream, Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld, MaxMsgSize: -1,
	}); err != nil {
		nc.Close()
		srv.Shutdown()
		return nil, fmt.Errorf("bench: nats stream: %w", err)
	}
	return &natsStore{srv: srv, nc: nc, js: js}, nil
}

type natsStore struct {
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func (s *natsStore) SaveBatch(ctx context.Context, b *Batch) error {
	futures := make([]jetstream.PubAckFuture, 0, len(b.Enc))
	for _, e := range b.Enc {
		f, err := s.js.PublishAsync("bench.events", e)
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("bench: nats publish: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *natsStore) Save(ctx context.Context, it *Item) error {
	_, err := s.js.Publish(ctx, "bench.events", it.Encoded())
	return err
}

// SaveFile publishes the file's bytes as one message, acknowledged once
// stored and fsynced.
func (s *natsStore) SaveFile(ctx context.Context, it *Item) error {
	_, err := s.js.Publish(ctx, "bench.files", it.File)
	return err
}

func (s *natsStore) Close(context.Context) error {
	s.nc.Close()
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	return nil
}

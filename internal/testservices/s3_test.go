package testservices

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestS3 checks that users share one server, that it serves S3 with the
// returned credentials, and that it stops after its last user.
func TestS3(t *testing.T) {
	var endpoint string
	t.Run("use", func(t *testing.T) {
		e1, ak, sk := S3(t)
		e2, _, _ := S3(t)
		if e1 != e2 {
			t.Fatalf("two users got two servers: %s and %s", e1, e2)
		}
		endpoint = e1
		_, _, _, bucket := S3Bucket(t)
		c := S3Client(e1, ak, sk)
		out, err := c.ListBuckets(context.Background(), &awss3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, b := range out.Buckets {
			found = found || aws.ToString(b.Name) == bucket
		}
		if !found {
			t.Fatalf("bucket %s not listed", bucket)
		}
	})
	client := &http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get(endpoint + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("the server at %s still answers after its last user", endpoint)
	}
}

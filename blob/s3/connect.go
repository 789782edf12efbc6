package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/trovedb/trove"
)

// Config says where a Store lives and how to sign in. Fields left empty
// come from the standard AWS sources: the environment (AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
// AWS_ENDPOINT_URL_S3), the shared config and credentials files, and the
// instance or container role.
type Config struct {
	// Region of the bucket, e.g. "us-west-2". Default: from the environment
	// or profile; "us-east-1" when an Endpoint is set and none is found.
	Region string
	// Bucket holds the objects. Required.
	Bucket string
	// AccessKeyID and SecretAccessKey are static credentials; both or
	// neither. Neither: the standard AWS credential chain.
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken goes with temporary static credentials. Default "".
	SessionToken string
	// Endpoint is the URL of an S3-compatible server, e.g.
	// "http://127.0.0.1:7070". Default: AWS S3 itself.
	Endpoint string
	// ForcePathStyle addresses buckets as endpoint/bucket instead of
	// bucket.endpoint; most S3-compatible servers need it. Default false.
	ForcePathStyle bool
	// Prefix, PartSize and Concurrency are as in Options.
	Prefix      string
	PartSize    int64
	Concurrency int
}

// Connect builds an S3 client from cfg, makes a Store on it and checks the
// bucket (Check): a missing bucket or refused credentials fail here, with a
// clear error wrapping trove.ErrInvalid.
func Connect(ctx context.Context, cfg Config) (*Store, error) {
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, fmt.Errorf("s3: %w: accessKeyId and secretAccessKey go together: give both or neither", trove.ErrInvalid)
	}
	var loads []func(*config.LoadOptions) error
	if cfg.Region != "" {
		loads = append(loads, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		loads = append(loads, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	ac, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("s3: %w: AWS configuration: %v", trove.ErrInvalid, err)
	}
	if ac.Region == "" {
		if cfg.Endpoint == "" && ac.BaseEndpoint == nil {
			return nil, fmt.Errorf("s3: %w: no region: set the region option or AWS_REGION", trove.ErrInvalid)
		}
		ac.Region = "us-east-1"
	}
	client := awss3.NewFromConfig(ac, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.ForcePathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	s, err := New(client, Options{Bucket: cfg.Bucket, Prefix: cfg.Prefix, PartSize: cfg.PartSize, Concurrency: cfg.Concurrency})
	if err != nil {
		return nil, err
	}
	if err := s.Check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

package postgres

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5/pgtype"
)

// tsvectorOID is PostgreSQL's tsvector type (built in, the same number on
// every server).
const tsvectorOID = 3614

// tsvector is a tsvector in PostgreSQL's binary format (tsvectorsend):
// the lexeme count, then each lexeme NUL-terminated with no positions.
// The server takes lexemes already sorted and distinct as they are, so
// writing one costs a copy rather than a parse and sort.
type tsvector []byte

// makeTSVector encodes tokens as a tsvector: sorted bytewise (as
// PostgreSQL compares lexemes) and distinct — what
// array_to_tsvector(tokens) makes.
func makeTSVector(tokens []string) tsvector {
	tokens = slices.Clone(tokens)
	slices.Sort(tokens)
	return encodeTSVector(slices.Compact(tokens))
}

// encodeTSVector encodes tokens already sorted and distinct.
func encodeTSVector(tokens []string) tsvector {
	size := 4
	for _, t := range tokens {
		size += len(t) + 3
	}
	b := make([]byte, 4, size)
	binary.BigEndian.PutUint32(b, uint32(len(tokens)))
	for _, t := range tokens {
		b = append(b, t...)
		b = append(b, 0, 0, 0) // the NUL, then no positions (uint16 0)
	}
	return b
}

// tsvectorCodec sends tsvector values in binary; pgx knows no tsvector
// type of its own. Nothing reads tsvectors back.
type tsvectorCodec struct{}

func (tsvectorCodec) FormatSupported(format int16) bool { return format == pgtype.BinaryFormatCode }

func (tsvectorCodec) PreferredFormat() int16 { return pgtype.BinaryFormatCode }

func (tsvectorCodec) PlanEncode(_ *pgtype.Map, _ uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(tsvector); ok && format == pgtype.BinaryFormatCode {
		return tsvectorEncoder{}
	}
	return nil
}

type tsvectorEncoder struct{}

func (tsvectorEncoder) Encode(value any, buf []byte) ([]byte, error) {
	return append(buf, value.(tsvector)...), nil
}

var errTSVectorRead = errors.New("postgres: tsvector values are written, never read")

func (tsvectorCodec) PlanScan(*pgtype.Map, uint32, int16, any) pgtype.ScanPlan { return nil }

func (tsvectorCodec) DecodeDatabaseSQLValue(*pgtype.Map, uint32, int16, []byte) (driver.Value, error) {
	return nil, errTSVectorRead
}

func (tsvectorCodec) DecodeValue(*pgtype.Map, uint32, int16, []byte) (any, error) {
	return nil, errTSVectorRead
}

// registerTSVector makes a connection's pgx encode tsvector values.
func registerTSVector(m *pgtype.Map) {
	m.RegisterType(&pgtype.Type{Name: "tsvector", OID: tsvectorOID, Codec: tsvectorCodec{}})
}

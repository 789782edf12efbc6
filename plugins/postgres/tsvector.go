package postgres

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5/pgtype"
)

// tsvectorOID and tsvectorArrayOID are PostgreSQL's tsvector and
// tsvector[] types (built in, the same numbers on every server).
const (
	tsvectorOID      = 3614
	tsvectorArrayOID = 3643
)

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

// tsvectors is a tsvector[] of one dimension; a nil element is NULL.
type tsvectors []tsvector

// appendArray appends a in PostgreSQL's binary array format (array_send):
// dimensions, a has-NULL flag, the element type, the length and lower
// bound of the dimension, then each element as its byte length (-1:
// NULL) and bytes.
func (a tsvectors) appendArray(buf []byte) []byte {
	if len(a) == 0 {
		buf = binary.BigEndian.AppendUint32(buf, 0) // no dimensions
		buf = binary.BigEndian.AppendUint32(buf, 0)
		return binary.BigEndian.AppendUint32(buf, tsvectorOID)
	}
	nulls := uint32(0)
	if slices.ContainsFunc(a, func(v tsvector) bool { return v == nil }) {
		nulls = 1
	}
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = binary.BigEndian.AppendUint32(buf, nulls)
	buf = binary.BigEndian.AppendUint32(buf, tsvectorOID)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(a)))
	buf = binary.BigEndian.AppendUint32(buf, 1)
	for _, v := range a {
		if v == nil {
			buf = binary.BigEndian.AppendUint32(buf, 0xFFFFFFFF)
			continue
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(v)))
		buf = append(buf, v...)
	}
	return buf
}

// tsvectorCodec sends tsvector and tsvector[] values in binary; pgx knows
// no tsvector type of its own. Nothing reads tsvectors back.
type tsvectorCodec struct{}

func (tsvectorCodec) FormatSupported(format int16) bool { return format == pgtype.BinaryFormatCode }

func (tsvectorCodec) PreferredFormat() int16 { return pgtype.BinaryFormatCode }

func (tsvectorCodec) PlanEncode(_ *pgtype.Map, _ uint32, format int16, value any) pgtype.EncodePlan {
	if format != pgtype.BinaryFormatCode {
		return nil
	}
	switch value.(type) {
	case tsvector:
		return tsvectorEncoder{}
	case tsvectors:
		return tsvectorsEncoder{}
	}
	return nil
}

type tsvectorsEncoder struct{}

func (tsvectorsEncoder) Encode(value any, buf []byte) ([]byte, error) {
	return value.(tsvectors).appendArray(buf), nil
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

// registerTSVector makes a connection's pgx encode tsvector and
// tsvector[] values.
func registerTSVector(m *pgtype.Map) {
	m.RegisterType(&pgtype.Type{Name: "tsvector", OID: tsvectorOID, Codec: tsvectorCodec{}})
	m.RegisterType(&pgtype.Type{Name: "_tsvector", OID: tsvectorArrayOID, Codec: tsvectorCodec{}})
}

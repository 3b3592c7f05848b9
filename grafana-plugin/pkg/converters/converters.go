// Package converters turns Firebreak API answers (columns with ClickHouse
// types, JSON values) into Grafana data frames.
//
//	ClickHouse type                                   Grafana field
//	Date, Date32, DateTime, DateTime64(p[, tz])       time (nullable time when Nullable)
//	Int8…Int64, UInt8…UInt32                          nullable int64
//	UInt64                                            nullable uint64 (series ids exceed int64)
//	Float32, Float64, Decimal*, BFloat16              nullable float64 (non-finite values are null)
//	Bool                                              bool (nullable bool when Nullable)
//	String, FixedString, UUID, Enum*, IPv4, IPv6,
//	Int128/256, UInt128/256                           string (nullable string when Nullable)
//	Map, Array, Tuple, JSON and anything else         string holding the value as JSON
//
// LowCardinality(T) is T. Numbers are always nullable because the API
// returns non-finite floats as null.
package converters

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// Kind is the Grafana side of a ClickHouse type.
type Kind int

const (
	KindString Kind = iota // text, and the JSON fallback
	KindJSON               // Map, Array, Tuple, JSON: rendered as JSON text
	KindTime
	KindInt64
	KindUint64
	KindFloat64
	KindBool
)

// Type is a parsed ClickHouse column type.
type Type struct {
	Kind     Kind
	Nullable bool
}

// ParseType maps a ClickHouse type name to its Grafana kind.
func ParseType(t string) Type {
	t = strings.TrimSpace(t)
	var out Type
	for {
		switch {
		case unwrap(&t, "LowCardinality("):
			continue
		case unwrap(&t, "Nullable("):
			out.Nullable = true
			continue
		}
		break
	}
	base := t
	if i := strings.IndexByte(t, '('); i >= 0 {
		base = t[:i]
	}
	switch base {
	case "Date", "Date32", "DateTime", "DateTime32", "DateTime64":
		out.Kind = KindTime
	case "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32":
		out.Kind = KindInt64
	case "UInt64":
		out.Kind = KindUint64
	case "Float32", "Float64", "BFloat16", "Decimal", "Decimal32", "Decimal64", "Decimal128", "Decimal256":
		out.Kind = KindFloat64
	case "Bool", "Boolean":
		out.Kind = KindBool
	case "String", "FixedString", "UUID", "Enum", "Enum8", "Enum16", "IPv4", "IPv6",
		"Int128", "Int256", "UInt128", "UInt256":
		out.Kind = KindString
	default:
		out.Kind = KindJSON
	}
	return out
}

// unwrap strips "Wrapper(" ... ")" from *t.
func unwrap(t *string, prefix string) bool {
	if strings.HasPrefix(*t, prefix) && strings.HasSuffix(*t, ")") {
		*t = strings.TrimSpace((*t)[len(prefix) : len(*t)-1])
		return true
	}
	return false
}

// FieldType is the data.FieldType a column becomes.
func (t Type) FieldType() data.FieldType {
	switch t.Kind {
	case KindTime:
		if t.Nullable {
			return data.FieldTypeNullableTime
		}
		return data.FieldTypeTime
	case KindInt64:
		return data.FieldTypeNullableInt64
	case KindUint64:
		return data.FieldTypeNullableUint64
	case KindFloat64:
		return data.FieldTypeNullableFloat64
	case KindBool:
		if t.Nullable {
			return data.FieldTypeNullableBool
		}
		return data.FieldTypeBool
	default:
		if t.Nullable {
			return data.FieldTypeNullableString
		}
		return data.FieldTypeString
	}
}

// Frame builds a table frame from an SQL answer, one field per column.
func Frame(name string, res *firebreak.Result) (*data.Frame, error) {
	frame := data.NewFrame(name)
	for c, col := range res.Columns {
		typ := ParseType(col.Type)
		field := data.NewFieldFromFieldType(typ.FieldType(), len(res.Rows))
		field.Name = col.Name
		for r, row := range res.Rows {
			if c >= len(row) {
				return nil, fmt.Errorf("row %d has %d values, the answer has %d columns", r, len(row), len(res.Columns))
			}
			v, err := Value(typ, row[c])
			if err != nil {
				return nil, fmt.Errorf("column %s (%s), row %d: %w", col.Name, col.Type, r, err)
			}
			field.Set(r, v)
		}
		frame.Fields = append(frame.Fields, field)
	}
	return frame, nil
}

// Value converts one API value to the Go type of t's field.
func Value(t Type, v any) (any, error) {
	if v == nil {
		return nullValue(t), nil
	}
	switch t.Kind {
	case KindTime:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("time %v is not a string", v)
		}
		tm, err := parseTime(s)
		if err != nil {
			return nil, err
		}
		if t.Nullable {
			return &tm, nil
		}
		return tm, nil
	case KindInt64:
		n, err := number(v)
		if err != nil {
			return nil, err
		}
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a 64-bit integer", n)
		}
		return &i, nil
	case KindUint64:
		n, err := number(v)
		if err != nil {
			return nil, err
		}
		u, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not an unsigned 64-bit integer", n)
		}
		return &u, nil
	case KindFloat64:
		n, err := number(v)
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a number", n)
		}
		return &f, nil
	case KindBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%v is not a bool", v)
		}
		if t.Nullable {
			return &b, nil
		}
		return b, nil
	default:
		s, err := text(t.Kind, v)
		if err != nil {
			return nil, err
		}
		if t.Nullable {
			return &s, nil
		}
		return s, nil
	}
}

// nullValue is what NULL becomes: nil for nullable fields, the zero value
// for the others (ClickHouse sends no NULL in a non-Nullable column).
func nullValue(t Type) any {
	switch t.FieldType() {
	case data.FieldTypeTime:
		return time.Time{}
	case data.FieldTypeBool:
		return false
	case data.FieldTypeString:
		return ""
	}
	return nil
}

// number returns the decimal text of a JSON number (the API never quotes
// numbers, but 64-bit integers quoted as strings are accepted too).
func number(v any) (string, error) {
	switch n := v.(type) {
	case json.Number:
		return n.String(), nil
	case string:
		return n, nil
	case float64:
		return strconv.FormatFloat(n, 'g', -1, 64), nil
	case int64:
		return strconv.FormatInt(n, 10), nil
	}
	return "", fmt.Errorf("%v (%T) is not a number", v, v)
}

func text(k Kind, v any) (string, error) {
	if s, ok := v.(string); ok && k == KindString {
		return s, nil
	}
	if n, ok := v.(json.Number); ok && k == KindString {
		return n.String(), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// parseTime reads the API's RFC 3339 UTC times, and plain dates.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
}

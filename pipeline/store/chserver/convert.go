package chserver

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/chcol"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// typeKind is what the value conversion needs to know about a ClickHouse
// type beyond the Go value the driver returns.
type typeKind uint8

const (
	kindOther typeKind = iota
	kindDate
	kindDateTime   // DateTime, DateTime('tz')
	kindDateTime64 // DateTime64(p[, 'tz'])
	kindTime       // Time, Time64(p)
	kindArray      // elems[0]
	kindMap        // elems[0] key, elems[1] value
	kindTuple      // elems, names (named tuples)
	kindVariant    // elems
	kindIPv6
)

// chType is a parsed ClickHouse type name, reduced to what conversion uses.
// Nullable, LowCardinality and SimpleAggregateFunction are unwrapped.
type chType struct {
	kind  typeKind
	name  string // base name, e.g. "UInt64", "DateTime64"
	prec  int    // DateTime64 / Time64 precision
	elems []*chType
	names []string // field names of a named Tuple, parallel to elems
}

// parseType parses a ClickHouse type name as the server reports it
// (DatabaseTypeName). It never fails: anything it does not understand is
// kindOther, and conversion then relies on the Go value alone.
func parseType(s string) *chType {
	s = strings.TrimSpace(s)
	name, args, hasArgs := s, "", false
	if i := strings.IndexByte(s, '('); i > 0 && strings.HasSuffix(s, ")") {
		name, args, hasArgs = strings.TrimSpace(s[:i]), s[i+1:len(s)-1], true
	}
	t := &chType{name: name}
	switch name {
	case "Nullable", "LowCardinality":
		if hasArgs {
			return parseType(args)
		}
	case "SimpleAggregateFunction":
		if parts := splitTopLevel(args); len(parts) >= 2 {
			return parseType(strings.Join(parts[1:], ","))
		}
	case "Date", "Date32":
		t.kind = kindDate
	case "DateTime":
		t.kind = kindDateTime
	case "DateTime64":
		t.kind = kindDateTime64
		t.prec = 3
		if parts := splitTopLevel(args); len(parts) > 0 {
			if p, err := strconv.Atoi(strings.TrimSpace(parts[0])); err == nil && p >= 0 && p <= 9 {
				t.prec = p
			}
		}
	case "Time":
		t.kind = kindTime
	case "Time64":
		t.kind = kindTime
		if p, err := strconv.Atoi(strings.TrimSpace(args)); err == nil && p >= 0 && p <= 9 {
			t.prec = p
		}
	case "IPv6":
		t.kind = kindIPv6
	case "Array":
		t.kind = kindArray
		t.elems = []*chType{parseType(args)}
	case "Map":
		t.kind = kindMap
		parts := splitTopLevel(args)
		if len(parts) == 2 {
			t.elems = []*chType{parseType(parts[0]), parseType(parts[1])}
		} else {
			t.kind = kindOther
		}
	case "Tuple", "Nested":
		tuple := &chType{kind: kindTuple, name: "Tuple"}
		for _, p := range splitTopLevel(args) {
			fieldName, typ := splitTupleField(p)
			tuple.elems = append(tuple.elems, parseType(typ))
			tuple.names = append(tuple.names, fieldName)
		}
		named := len(tuple.names) > 0
		for _, n := range tuple.names {
			if n == "" {
				named = false
			}
		}
		if !named {
			tuple.names = nil
		}
		if name == "Nested" {
			return &chType{kind: kindArray, name: "Array", elems: []*chType{tuple}}
		}
		return tuple
	case "Variant":
		t.kind = kindVariant
		for _, p := range splitTopLevel(args) {
			t.elems = append(t.elems, parseType(p))
		}
	}
	return t
}

// splitTopLevel splits s at commas outside parentheses, quotes and
// backquotes.
func splitTopLevel(s string) []string {
	var (
		parts []string
		depth int
		quote byte
		start int
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '`' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" || len(parts) > 0 {
		parts = append(parts, rest)
	}
	return parts
}

// splitTupleField splits "name Type" (a named tuple element) into its name
// and type; an unnamed element returns "" and the element itself. A name is
// followed by whitespace before any parenthesis.
func splitTupleField(s string) (name, typ string) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "`") || strings.HasPrefix(s, `"`) {
		q := s[0]
		for i := 1; i < len(s); i++ {
			if s[i] == '\\' {
				i++
				continue
			}
			if s[i] == q {
				return s[1:i], strings.TrimSpace(s[i+1:])
			}
		}
		return "", s
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '\'':
			return "", s
		case ' ', '\t', '\n':
			return s[:i], strings.TrimSpace(s[i+1:])
		}
	}
	return "", s
}

func (t *chType) elem(i int) *chType {
	if t == nil || i >= len(t.elems) {
		return nil
	}
	return t.elems[i]
}

// jsonValue converts one value the driver scanned for a column of type t to
// the store.Result contract: integers, floats and decimals as json.Number
// (non-finite floats nil), Date as 2006-01-02, DateTime and DateTime64 as
// RFC 3339 UTC with the type's precision, UUID, IP and Enum as strings,
// Nullable NULL as nil, Array and Tuple as []any, Map as map[string]any.
func jsonValue(t *chType, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case json.Number:
		return x
	case bool:
		return x
	case string:
		if t != nil && t.name == "JSON" {
			// JSON columns read with the string serialization.
			return decodeJSON([]byte(x))
		}
		return x
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int8:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int16:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case uint:
		return json.Number(strconv.FormatUint(uint64(x), 10))
	case uint8:
		return json.Number(strconv.FormatUint(uint64(x), 10))
	case uint16:
		return json.Number(strconv.FormatUint(uint64(x), 10))
	case uint32:
		return json.Number(strconv.FormatUint(uint64(x), 10))
	case uint64:
		return json.Number(strconv.FormatUint(x, 10))
	case float32:
		return floatNumber(float64(x), 32)
	case float64:
		return floatNumber(x, 64)
	case *big.Int:
		if x == nil {
			return nil
		}
		return json.Number(x.String())
	case big.Int:
		return json.Number(x.String())
	case decimal.Decimal:
		return json.Number(x.String())
	case time.Time:
		return formatTime(t, x)
	case time.Duration:
		return formatDuration(t, x)
	case uuid.UUID:
		return x.String()
	case net.IP:
		if x == nil {
			return nil
		}
		if t != nil && t.kind == kindIPv6 && len(x) == net.IPv6len {
			if v4 := x.To4(); v4 != nil {
				return "::ffff:" + v4.String()
			}
		}
		return x.String()
	case chcol.Variant: // also chcol.Dynamic
		if x.Nil() {
			return nil
		}
		inner := variantType(t, x)
		return jsonValue(inner, x.Any())
	case *chcol.Variant:
		if x == nil {
			return nil
		}
		return jsonValue(t, *x)
	case chcol.JSON:
		return jsonValue(nil, x.NestedMap())
	case *chcol.JSON:
		if x == nil {
			return nil
		}
		return jsonValue(nil, x.NestedMap())
	case json.RawMessage:
		return decodeJSON(x)
	}
	return reflectValue(t, reflect.ValueOf(v))
}

// variantType picks the type of a Variant/Dynamic value: the type the
// driver reports with it, else the matching Variant member.
func variantType(t *chType, v chcol.Variant) *chType {
	if v.HasType() {
		return parseType(v.Type())
	}
	if t != nil && t.kind == kindVariant {
		for _, e := range t.elems {
			if e.kind == kindDateTime || e.kind == kindDateTime64 || e.kind == kindDate {
				if _, ok := v.Any().(time.Time); ok {
					return e
				}
			}
		}
	}
	return nil
}

func reflectValue(t *chType, rv reflect.Value) any {
	switch rv.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return jsonValue(t, rv.Elem().Interface())
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(rv.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return json.Number(strconv.FormatUint(rv.Uint(), 10))
	case reflect.Float32:
		return floatNumber(rv.Float(), 32)
	case reflect.Float64:
		return floatNumber(rv.Float(), 64)
	case reflect.String:
		return rv.String()
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			if t != nil && t.kind == kindArray {
				return []any{}
			}
			return nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			et := t.elem(0)
			if t != nil && t.kind == kindTuple {
				et = t.elem(i)
			}
			out[i] = jsonValue(et, rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.IsNil() {
			if t != nil && t.kind == kindMap {
				return map[string]any{}
			}
			return nil
		}
		if t != nil && t.kind == kindTuple && len(t.names) > 0 && rv.Type().Key().Kind() == reflect.String {
			// A named tuple is scanned as map[string]any: put it back
			// in the type's field order.
			out := make([]any, len(t.names))
			for i, n := range t.names {
				if fv := rv.MapIndex(reflect.ValueOf(n).Convert(rv.Type().Key())); fv.IsValid() {
					out[i] = jsonValue(t.elems[i], fv.Interface())
				}
			}
			return out
		}
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			out[mapKey(jsonValue(t.elem(0), iter.Key().Interface()))] = jsonValue(t.elem(1), iter.Value().Interface())
		}
		return out
	case reflect.Struct:
		if m, ok := rv.Interface().(interface{ MarshalJSON() ([]byte, error) }); ok {
			if b, err := m.MarshalJSON(); err == nil {
				return decodeJSON(b)
			}
		}
		if m, ok := rv.Interface().(fmt.Stringer); ok {
			return m.String()
		}
		b, err := json.Marshal(rv.Interface())
		if err != nil {
			return fmt.Sprint(rv.Interface())
		}
		return decodeJSON(b)
	}
	return fmt.Sprint(rv.Interface())
}

// mapKey turns a converted map key into a JSON object key.
func mapKey(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(k)
	if err != nil {
		return fmt.Sprint(k)
	}
	return string(b)
}

func decodeJSON(b []byte) any {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(b)
	}
	return v
}

// floatNumber formats f like encoding/json does (shortest representation,
// exponent only for very small or large magnitudes); NaN and ±Inf are nil.
func floatNumber(f float64, bits int) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b := strconv.AppendFloat(make([]byte, 0, 24), f, format, -1, bits)
	if format == 'e' {
		// 1e-07 -> 1e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return json.Number(b)
}

// Layouts of the JSON-ready times, by DateTime64 precision.
var dateTimeLayouts = func() [10]string {
	var l [10]string
	l[0] = "2006-01-02T15:04:05Z"
	for p := 1; p <= 9; p++ {
		l[p] = "2006-01-02T15:04:05." + strings.Repeat("0", p) + "Z"
	}
	return l
}()

func formatTime(t *chType, x time.Time) string {
	if t == nil {
		return x.UTC().Format(time.RFC3339Nano)
	}
	switch t.kind {
	case kindDate:
		// A Date has no time zone: the driver returns midnight of that day
		// (in UTC or the column's zone); keep its calendar date.
		return x.Format("2006-01-02")
	case kindDateTime:
		return x.UTC().Format(dateTimeLayouts[0])
	case kindDateTime64:
		return x.UTC().Format(dateTimeLayouts[t.prec])
	}
	return x.UTC().Format(time.RFC3339Nano)
}

// formatDuration writes Time/Time64 values as ClickHouse does:
// [-]H:MM:SS[.fraction].
func formatDuration(t *chType, d time.Duration) string {
	prec := 0
	if t != nil && t.kind == kindTime {
		prec = t.prec
	} else if d%time.Second != 0 {
		prec = 9
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	h := d / time.Hour
	m := (d % time.Hour) / time.Minute
	s := (d % time.Minute) / time.Second
	fmt.Fprintf(&b, "%d:%02d:%02d", h, m, s)
	if prec > 0 {
		frac := fmt.Sprintf("%09d", d%time.Second)
		b.WriteByte('.')
		b.WriteString(frac[:prec])
	}
	return b.String()
}

package syslog

import (
	"bytes"
	"errors"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/auto"
	"github.com/leodido/go-syslog/v4/common"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// UnknownService is the service of a message with neither an app-name nor
// a hostname, and of a message that could not be parsed.
const UnknownService = "unknown_service"

// Attribute names this collector sets. Structured data elements become
// "<SD-ID>.<PARAM-NAME>" (e.g. "timeQuality.tzKnown", "origin@32473.ip").
const (
	AttrProcID     = "syslog.procid"
	AttrMsgID      = "syslog.msgid"
	AttrParseError = "syslog.parse_error"
	AttrPeer       = "net.peer.ip"
)

// severities maps syslog severities (0 emerg … 7 debug) to OpenTelemetry
// severity numbers, in order (more severe, higher number):
// emerg FATAL2 22, alert FATAL 21, crit ERROR3 19, err ERROR 17,
// warning WARN 13, notice INFO2 10, info INFO 9, debug DEBUG 5.
var severities = [8]uint8{22, 21, 19, 17, 13, 10, 9, 5}

// severityNames are syslog's keywords, kept as the severity text.
var severityNames = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// streamKey is a stream: the service and the labels host, app, facility.
type streamKey struct {
	service, host, app, facility string
}

// labels returns the stream labels, sorted by name, without empty ones.
func (k streamKey) labels() []records.Label {
	ls := make([]records.Label, 0, 3)
	for _, l := range [...]records.Label{{Name: "app", Value: k.app}, {Name: "facility", Value: k.facility}, {Name: "host", Value: k.host}} {
		if l.Value != "" {
			ls = append(ls, l)
		}
	}
	return ls
}

// line is one message ready for a batch.
type line struct {
	key      streamKey
	entry    records.LogEntry
	unparsed bool
}

// parser turns frames into lines with go-syslog's auto-detecting machine
// (RFC 5424 or RFC 3164 per message). A parser is not safe for concurrent
// use: every connection and UDP socket has its own.
type parser struct {
	m       gosyslog.Machine
	loc     *time.Location
	scratch []byte
}

func newParser(loc *time.Location) *parser {
	m := auto.NewMachine(
		auto.WithRFC3164Options(
			// RFC 3164 has no year and no zone: the year is filled in by
			// fixYear; the zone is the one configured (the sender's, which
			// is usually the receiver's too).
			rfc3164.WithLocaleTimezone(loc),
			rfc3164.WithRFC3339(),         // rsyslog's high-precision template
			rfc3164.WithSecondFractions(), // "Nov  2 10:00:00.123"
			rfc3164.WithLenientDay(),      // "Nov 02"
		),
	)
	// Strict RFC 5424 then RFC 3164 first; best effort only recovers the
	// PRI of a message neither can parse.
	m.WithBestEffort()
	return &parser{m: m, loc: loc}
}

// parse appends frame's line to dst. now is the arrival time (for messages
// without a timestamp); peer names the sender, only for unparsable ones.
func (p *parser) parse(frame []byte, now time.Time, peer func() string, dst []line) []line {
	msg, err := p.m.Parse(frame)
	var fraction time.Duration
	if err != nil {
		// go-syslog's RFC 3164 grammar takes RFC 3339 timestamps, but not
		// with fractional seconds, which rsyslog's forwarding templates
		// send: parse without the fraction, then put it back.
		if start, end, ok := rfc3339Fraction(frame); ok {
			p.scratch = append(append(p.scratch[:0], frame[:start]...), frame[end:]...)
			if m2, err2 := p.m.Parse(p.scratch); err2 == nil && m2 != nil {
				msg, err, fraction = m2, nil, fractionOf(frame[start+1:end])
			}
		}
	}
	if err != nil || msg == nil {
		return append(dst, p.raw(frame, msg, err, now, peer))
	}
	var base *gosyslog.Base
	var sd *map[string]map[string]string
	switch m := msg.(type) {
	case *rfc5424.SyslogMessage:
		base, sd = &m.Base, m.StructuredData
	case *rfc3164.SyslogMessage:
		base = &m.Base
	default:
		return append(dst, p.raw(frame, nil, errors.New("unknown syslog message type"), now, peer))
	}

	var l line
	e := &l.entry
	e.TimeNs = now.UnixNano()
	if base.Timestamp != nil {
		if ns, ok := toNs(p.fixYear(*base.Timestamp, now).Add(fraction)); ok {
			e.TimeNs = ns
		}
	}
	if base.Severity != nil && *base.Severity < 8 {
		e.SeverityNumber, e.SeverityText = severities[*base.Severity], severityNames[*base.Severity]
	}
	if base.Message != nil {
		e.Body = trimBOM(*base.Message)
	}
	if base.Hostname != nil {
		l.key.host = *base.Hostname
	}
	if base.Appname != nil {
		l.key.app = *base.Appname
	}
	if base.Facility != nil {
		l.key.facility = common.FacilityKeywords[*base.Facility]
	}
	switch {
	case l.key.app != "":
		l.key.service = l.key.app
	case l.key.host != "":
		l.key.service = l.key.host
	default:
		l.key.service = UnknownService
	}

	n := 0
	if base.ProcID != nil {
		n++
	}
	if base.MsgID != nil {
		n++
	}
	if sd != nil {
		for _, params := range *sd {
			n += len(params)
		}
	}
	if n > 0 {
		attrs := make([]records.Label, 0, n)
		if base.ProcID != nil {
			attrs = append(attrs, records.Label{Name: AttrProcID, Value: *base.ProcID})
		}
		if base.MsgID != nil {
			attrs = append(attrs, records.Label{Name: AttrMsgID, Value: *base.MsgID})
		}
		if sd != nil {
			for id, params := range *sd {
				for name, v := range params {
					attrs = append(attrs, records.Label{Name: id + "." + name, Value: v})
				}
			}
		}
		records.SortLabels(attrs) // map order is random; ids must not be
		e.Attributes = attrs
	}
	return append(dst, l)
}

// raw keeps a message neither grammar accepts: the whole frame becomes the
// body, with the parser's complaint and the sender's address as attributes,
// service unknown_service, and the severity and facility of its PRI if
// that much could be read (else severity 0, unspecified).
func (p *parser) raw(frame []byte, partial gosyslog.Message, err error, now time.Time, peer func() string) line {
	l := line{unparsed: true, key: streamKey{service: UnknownService}}
	l.entry = records.LogEntry{TimeNs: now.UnixNano(), Body: string(frame)}
	if partial != nil {
		var base *gosyslog.Base
		switch m := partial.(type) {
		case *rfc5424.SyslogMessage:
			base = &m.Base
		case *rfc3164.SyslogMessage:
			base = &m.Base
		}
		if base != nil && base.Severity != nil && *base.Severity < 8 && base.Facility != nil {
			l.entry.SeverityNumber, l.entry.SeverityText = severities[*base.Severity], severityNames[*base.Severity]
			l.key.facility = common.FacilityKeywords[*base.Facility]
		}
	}
	reason := "unparsable"
	if err != nil {
		reason = err.Error()
	}
	attrs := []records.Label{{Name: AttrPeer, Value: peer()}, {Name: AttrParseError, Value: reason}}
	records.SortLabels(attrs)
	l.entry.Attributes = attrs
	return l
}

// fixYear gives an RFC 3164 timestamp (parsed as year 0) the current year,
// or the previous one when that would put it more than a week in the
// future: a message stamped Dec 31 that arrives on Jan 1 is from last year.
func (p *parser) fixYear(t, now time.Time) time.Time {
	if t.Year() != 0 {
		return t
	}
	now = now.In(t.Location())
	y := now.Year()
	fixed := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	if fixed.Sub(now) > 7*24*time.Hour {
		fixed = time.Date(y-1, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	}
	return fixed
}

func toNs(t time.Time) (int64, bool) {
	sec := t.Unix()
	if sec <= -9_223_372_036 || sec >= 9_223_372_036 {
		return 0, false // outside int64 nanoseconds (1678–2262): arrival time instead
	}
	return t.UnixNano(), true
}

// rfc3339Fraction finds the fractional seconds of an RFC 3339 timestamp
// right after the PRI ("<13>2026-11-02T10:00:00.123456+01:00 …"): the
// span of the point and its digits.
func rfc3339Fraction(frame []byte) (start, end int, ok bool) {
	gt := bytes.IndexByte(frame, '>')
	if gt < 2 || gt > 4 {
		return 0, 0, false
	}
	ts := frame[gt+1:]
	if len(ts) < 21 || ts[4] != '-' || ts[7] != '-' || (ts[10] != 'T' && ts[10] != 't') || ts[13] != ':' || ts[16] != ':' || ts[19] != '.' {
		return 0, 0, false
	}
	j := 20
	for j < len(ts) && ts[j] >= '0' && ts[j] <= '9' {
		j++
	}
	if j == 20 {
		return 0, 0, false
	}
	return gt + 1 + 19, gt + 1 + j, true
}

// fractionOf reads fractional-second digits ("123" = 123 ms), to ns.
func fractionOf(digits []byte) time.Duration {
	var ns time.Duration
	for i := range 9 {
		ns *= 10
		if i < len(digits) {
			ns += time.Duration(digits[i] - '0')
		}
	}
	return ns
}

var bom = "\xef\xbb\xbf"

// trimBOM drops the UTF-8 byte order mark RFC 5424 allows before MSG.
func trimBOM(s string) string {
	if len(s) >= 3 && s[:3] == bom {
		return s[3:]
	}
	return s
}

package ingest

import "strings"

// SeverityFromText maps a level name to an OpenTelemetry severity number
// (1–24; 0 when the name is not known, the text is kept either way).
// Names are matched case-insensitively; syslog's names map as the syslog
// collector maps its numeric severities, so the same event carries the same
// number whichever way it arrived:
//
//	trace 1, debug/dbg 5, info/information/informational 9, notice 10,
//	warn/warning 13, error/err 17, crit/critical 19, alert/fatal 21,
//	emerg/emergency/panic 22, and OTel's own names TRACE2 … FATAL4.
//
// Every collector that receives level names (Loki, JSON lines) uses it.
func SeverityFromText(s string) uint8 {
	if n, ok := severityNames[s]; ok {
		return n
	}
	if n, ok := severityNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return n
	}
	return 0
}

var severityNames = func() map[string]uint8 {
	m := map[string]uint8{
		"trace": 1, "debug": 5, "dbg": 5,
		"info": 9, "information": 9, "informational": 9, "notice": 10,
		"warn": 13, "warning": 13,
		"error": 17, "err": 17,
		"crit": 19, "critical": 19,
		"alert": 21, "fatal": 21,
		"emerg": 22, "emergency": 22, "panic": 22,
	}
	for base, n := range map[string]uint8{"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21} {
		for i, suffix := range []string{"2", "3", "4"} {
			m[base+suffix] = n + uint8(i) + 1
		}
	}
	return m
}()

package syslog

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// frames runs the framer over input and returns the frames, with "<too long>"
// for each refused one.
func frames(t *testing.T, input string, maxMsg int, r func(io.Reader) io.Reader) ([]string, framing) {
	t.Helper()
	var src io.Reader = strings.NewReader(input)
	if r != nil {
		src = r(src)
	}
	f := newFramer(src, maxMsg)
	var out []string
	for range 1000 {
		fr, err := f.next()
		switch {
		case err == nil:
			out = append(out, string(fr))
		case errors.Is(err, errTooLong):
			out = append(out, "<too long>")
		case errors.Is(err, io.EOF):
			return out, f.mode
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	t.Fatal("framer does not end")
	return nil, 0
}

func TestFraming(t *testing.T) {
	m5424 := "<13>1 2026-11-02T10:00:00Z h app - - - hello"
	m3164 := "<13>Nov  2 10:00:00 h app: hi"
	oc := func(m string) string { return itoa(len(m)) + " " + m }
	cases := []struct {
		name  string
		in    string
		max   int
		want  []string
		mode  framing
		slowR bool
	}{
		{"newline LF", m5424 + "\n" + m3164 + "\n", 0, []string{m5424, m3164}, framingNewline, false},
		{"newline CRLF and blank lines", m5424 + "\r\n\r\n" + m3164 + "\r\n", 0, []string{m5424, m3164}, framingNewline, false},
		{"newline last line without LF", m5424 + "\n" + m3164, 0, []string{m5424, m3164}, framingNewline, false},
		{"octet counting", oc(m5424) + oc(m3164), 0, []string{m5424, m3164}, framingOctet, false},
		{"octet counting with LF trailers", oc(m5424+"\n") + "\n" + oc(m3164), 0, []string{m5424, m3164}, framingOctet, false},
		{"octet counting keeps embedded newlines", oc("<13>1 - h app - - - two\nlines"), 0, []string{"<13>1 - h app - - - two\nlines"}, framingOctet, false},
		{"mixed: a line on an octet-counted connection", oc(m5424) + m3164 + "\n" + oc(m5424), 0, []string{m5424, m3164, m5424}, framingOctet, false},
		{"NUL trailers before LF are dropped", m5424 + "\x00\n" + m3164 + "\x00\n", 0, []string{m5424, m3164}, framingNewline, false},
		{"digits on a newline connection are text", m5424 + "\n" + "12 monkeys\n", 0, []string{m5424, "12 monkeys"}, framingNewline, false},
		{"not a length: read as a line", "123abc\n" + m5424 + "\n", 0, []string{"123abc", m5424}, framingOctet, false},
		{"octet too long is skipped, not the rest", oc(strings.Repeat("x", 50)) + oc(m3164), 40, []string{"<too long>", m3164}, framingOctet, false},
		{"line too long is skipped, not the rest", strings.Repeat("y", 50) + "\n" + m3164 + "\n", 40, []string{"<too long>", m3164}, framingNewline, false},
		{"line beyond the buffer is skipped", strings.Repeat("z", 10000) + "\n" + m3164 + "\n", 40, []string{"<too long>", m3164}, framingNewline, false},
		{"sender closes mid message", "100 <13>1 - h a - - - cut", 0, []string{"<13>1 - h a - - - cut"}, framingOctet, false},
		{"one byte at a time", oc(m5424) + m3164 + "\n", 0, []string{m5424, m3164}, framingOctet, true},
		{"empty", "", 0, nil, framingUnknown, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			maxMsg := c.max
			if maxMsg == 0 {
				maxMsg = 1024
			}
			var wrap func(io.Reader) io.Reader
			if c.slowR {
				wrap = iotest.OneByteReader
			}
			got, mode := frames(t, c.in, maxMsg, wrap)
			if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
				t.Fatalf("frames\n got %q\nwant %q", got, c.want)
			}
			if mode != c.mode {
				t.Fatalf("framing %v, want %v", mode, c.mode)
			}
		})
	}
}

// A short octet-counted frame must be delivered without waiting for more
// bytes (the connection stays open, nothing else comes).
func TestFramingDoesNotWaitForMore(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	f := newFramer(pr, 1024)
	go pw.Write([]byte("5 <1>ab"))
	got := make(chan string, 1)
	go func() {
		fr, err := f.next()
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(fr)
	}()
	select {
	case s := <-got:
		if s != "<1>ab" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("framer waits for bytes the frame does not need")
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// FuzzFramingAndParsing feeds any byte stream through the framer and the
// parser: no panic, no frame longer than the limit or than the input, and
// every frame becomes exactly one line (parsed, or kept raw).
func FuzzFramingAndParsing(f *testing.F) {
	f.Add([]byte("<13>1 2026-11-02T10:00:00Z h app 12 ID [a@1 k=\"v\"] hello\n<13>Nov  2 10:00:00 h app[3]: hi\n"))
	f.Add([]byte("45 <13>1 2026-11-02T10:00:00Z h app - - - hello<13>x\n999999999999 x"))
	f.Add([]byte("<999>garbage\x00\r\n\n7 <1>1 -\n"))
	f.Add([]byte("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xef\xbb\xbfAn application event log entry"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const maxMsg = 256
		fr := newFramer(bytes.NewReader(in), maxMsg)
		ps := newParser(time.UTC)
		now := time.Unix(1_790_000_000, 0)
		total := 0
		for range len(in) + 1 {
			frame, err := fr.next()
			if errors.Is(err, errTooLong) {
				continue
			}
			if err != nil {
				return
			}
			if len(frame) > maxMsg {
				t.Fatalf("frame of %d bytes passed the %d limit", len(frame), maxMsg)
			}
			total += len(frame)
			if total > len(in) {
				t.Fatal("frames hold more bytes than the input")
			}
			got := ps.parse(frame, now, func() string { return "127.0.0.1" }, nil)
			if len(got) != 1 {
				t.Fatalf("frame %q gave %d lines", frame, len(got))
			}
			if l := got[0]; l.unparsed && l.entry.Body != string(frame) {
				t.Fatalf("unparsed frame not kept whole: %q", l.entry.Body)
			}
		}
		if _, err := fr.next(); err == nil {
			t.Fatal("framer did not end")
		}
	})
}

package syslog

import (
	"bufio"
	"errors"
	"io"
)

// Framing on a TCP connection (RFC 6587). A connection's framing is
// detected from its first byte: a digit means octet counting
// ("MSG-LEN SP SYSLOG-MSG", as rsyslog and syslog-ng send with
// octet-counted or RFC 5425 framing, and `logger --octet-count`),
// anything else newline framing (one message per line, LF or CRLF, as
// `logger -T` sends). On an octet-counted connection, a frame that does not
// start with "digits SP" is read as a line instead, so a sender that mixes
// the two never loses a message; on a newline-framed connection every frame
// is a line, so a message that happens to start with a digit is never taken
// for a length. LF ends a line (CR and NUL before it are dropped); LF, CR
// and NUL between frames are skipped. NUL alone does not end a line.
//
// go-syslog has transport parsers for both framings, but they stop reading
// a connection at the first framing error and do not hand back the raw
// bytes of a message they cannot parse; this collector never drops a line,
// so it frames itself and gives each frame to go-syslog's message parser.

type framing int

const (
	framingUnknown framing = iota
	framingOctet
	framingNewline
)

func (f framing) String() string {
	switch f {
	case framingOctet:
		return "octet-counting"
	case framingNewline:
		return "newline"
	}
	return "unknown"
}

// errTooLong reports a frame longer than the limit; it was consumed, the
// connection goes on.
var errTooLong = errors.New("syslog message longer than the limit")

// maxLenDigits bounds MSG-LEN: 10 digits exceed any sane limit already.
const maxLenDigits = 10

type framer struct {
	r    *bufio.Reader
	max  int
	mode framing
	// skipped is the length of the last frame refused as too long.
	skipped int
}

func newFramer(r io.Reader, maxMessage int) *framer {
	return &framer{r: bufio.NewReaderSize(r, max(maxMessage+maxLenDigits+2, 4096)), max: maxMessage}
}

// buffered reports whether a next frame may be ready without a read.
func (f *framer) buffered() int { return f.r.Buffered() }

// next returns the next frame without its framing. The slice is valid until
// the next call. Errors: io.EOF at a clean end, errTooLong for a frame
// skipped (call again), anything else from the connection.
func (f *framer) next() ([]byte, error) {
	// Skip separators between frames.
	var c byte
	for {
		b, err := f.r.Peek(1)
		if err != nil {
			return nil, err
		}
		c = b[0]
		if c != '\n' && c != '\r' && c != 0 {
			break
		}
		f.r.Discard(1)
	}
	if f.mode == framingUnknown {
		f.mode = framingNewline
		if c >= '1' && c <= '9' {
			f.mode = framingOctet
		}
	}
	if f.mode == framingOctet && c >= '1' && c <= '9' {
		if n, hdr, ok := f.peekLength(); ok {
			f.r.Discard(hdr)
			return f.counted(n)
		}
	}
	return f.line()
}

// peekLength reads "MSG-LEN SP" without consuming it. ok is false when the
// bytes are not such a header (the frame is then read as a line).
func (f *framer) peekLength() (n, hdr int, ok bool) {
	for i := 0; i <= maxLenDigits; i++ {
		b, err := f.r.Peek(i + 1) // blocks only for bytes a valid header needs
		if err != nil {
			return 0, 0, false
		}
		switch c := b[i]; {
		case c >= '0' && c <= '9' && i < maxLenDigits:
			n = n*10 + int(c-'0')
		case c == ' ' && i > 0:
			return n, i + 1, true
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// counted reads an octet-counted message of n bytes.
func (f *framer) counted(n int) ([]byte, error) {
	if n > f.max {
		f.skipped = n
		if _, err := f.r.Discard(n); err != nil {
			return nil, err
		}
		return nil, errTooLong
	}
	frame, err := f.r.Peek(n)
	if err != nil {
		if errors.Is(err, io.EOF) && len(frame) > 0 {
			// The sender closed in mid-message: keep what came.
			f.r.Discard(len(frame))
			return trimEnd(frame), nil
		}
		return nil, err
	}
	f.r.Discard(n) // frame stays valid: bufio does not refill on Discard
	return trimEnd(frame), nil
}

// line reads up to LF (a last line without LF at EOF counts too).
func (f *framer) line() ([]byte, error) {
	frame, err := f.r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		n := len(frame)
		for errors.Is(err, bufio.ErrBufferFull) {
			frame, err = f.r.ReadSlice('\n')
			n += len(frame)
		}
		f.skipped = n
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		return nil, errTooLong
	case errors.Is(err, io.EOF) && len(frame) > 0:
		err = nil
	case err != nil:
		return nil, err
	}
	frame = trimEnd(frame)
	if len(frame) > f.max {
		f.skipped = len(frame)
		return nil, errTooLong
	}
	return frame, nil
}

// trimEnd drops the trailers senders put after a message: LF, CRLF, NUL.
func trimEnd(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', 0:
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}

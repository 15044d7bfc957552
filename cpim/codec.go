package cpim

import (
	"errors"
	"fmt"
)

// Limits shared by the codecs. A document beyond them is refused before it
// is interpreted, so hostile input (oversized bodies, deeply nested XML)
// costs little (rule 3 of the developers' brief).
const (
	// MaxDocumentSize is the largest Message/CPIM or PIDF document accepted,
	// in bytes. It matches sipgo's default SIP message size cap
	// (sip.ParseMaxMessageLength, 65535).
	MaxDocumentSize = 64 << 10
	// MaxDepth is the deepest element nesting accepted in a PIDF document.
	MaxDepth = 32
	// MaxElements is the largest number of elements accepted in a PIDF
	// document.
	MaxElements = 4096
	// MaxHeaders is the largest number of header lines accepted in either
	// header block of a Message/CPIM document.
	MaxHeaders = 256
)

// Errors the codecs wrap, for errors.Is.
var (
	ErrTooLarge  = errors.New("document too large")
	ErrTooDeep   = errors.New("document nested too deeply")
	ErrMalformed = errors.New("document malformed")
)

// SyntaxError reports a document the codecs refuse. It wraps one of
// [ErrTooLarge], [ErrTooDeep] or [ErrMalformed].
type SyntaxError struct {
	// Format names the document kind: "message/cpim" or "pidf".
	Format string
	// Line is the 1-based line where the problem was found; 0 if unknown.
	Line int
	// Msg describes the problem.
	Msg string
	// Err is ErrTooLarge, ErrTooDeep or ErrMalformed, possibly wrapping a
	// lower-level error.
	Err error
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("cpim: %s: line %d: %s", e.Format, e.Line, e.Msg)
	}
	return fmt.Sprintf("cpim: %s: %s", e.Format, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

package migrate

import (
	"fmt"
	"io"
)

// output is where Apply and Down print their progress and dry runs. It
// keeps the first write error, and the run returns it, so a dry run whose
// SQL could not be written (a closed pipe, a full disk) fails instead of
// reporting success to nobody; after that error it writes nothing more.
type output struct {
	w   io.Writer
	err error
}

// newOutput writes to w, or nowhere when w is nil.
func newOutput(w io.Writer) *output {
	if w == nil {
		w = io.Discard
	}
	return &output{w: w}
}

func (o *output) printf(format string, args ...any) {
	if o.err == nil {
		_, o.err = fmt.Fprintf(o.w, format, args...)
	}
}

func (o *output) println(args ...any) {
	if o.err == nil {
		_, o.err = fmt.Fprintln(o.w, args...)
	}
}

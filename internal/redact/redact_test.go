package redact

import (
	"bytes"
	"testing"
)

func TestRedactor(t *testing.T) {
	r := New("hunter22", "abc", "hunter22-long", "")
	if got := r.String("pw hunter22-long and hunter22, abc"); got != "pw "+Mask+" and "+Mask+", abc" {
		t.Errorf("got %q", got)
	}
	var b bytes.Buffer
	w := r.Writer(&b)
	n, err := w.Write([]byte("x=hunter22\n"))
	if err != nil || n != len("x=hunter22\n") || b.String() != "x="+Mask+"\n" {
		t.Errorf("writer: %d %v %q", n, err, b.String())
	}
	var nilR *Redactor
	if nilR.String("s") != "s" || New().String("hunter22") != "hunter22" {
		t.Error("empty redactors must pass text through")
	}
}

package envfile

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseValues(t *testing.T) {
	src := "# c\n\nA=1\nexport B = two words # comment\nC=\"q \\\"x\\\" \\n y\"\nD='lit $X \\n'\nE=\nF=a#b\nG=    # only a comment\nH=${secret:32}   # generated\n"
	f, err := Parse("t", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "q \"x\" \n y", "D": "lit $X \\n", "E": "", "F": "a#b", "G": "", "H": "${secret:32}"}
	for k, v := range want {
		if got, ok := f.Lookup(k); !ok || got != v {
			t.Errorf("%s = %q, %v; want %q", k, got, ok, v)
		}
	}
	if got := strings.Join(f.Keys(), ","); got != "A,B,C,D,E,F,G,H" {
		t.Errorf("keys %s", got)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, v := range []string{"", "plain", "with space", "it's", "a\"b", "new\nline", "$HOME", "#hash", " lead", "tab\tx", `back\slash`} {
		line := Format("K", v)
		f, err := Parse("t", []byte(line+"\n"))
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got, _ := f.Lookup("K"); got != v {
			t.Errorf("Format(%q) = %s, reads back %q", v, line, got)
		}
	}
}

func TestSyncKeepsUserContent(t *testing.T) {
	tmpl := mustParse(t, "# the db\nDB_PASSWORD=${secret:16}\nLEVEL=info\n# new one\nNEW=x\n")
	cur := mustParse(t, "# my notes\nLEVEL=debug   # mine\nDB_PASSWORD=keepme\nMINE=1\n")
	out, rep, err := Sync(tmpl, cur, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("# my notes\nLEVEL=debug   # mine\nDB_PASSWORD=keepme\nMINE=1\n")) {
		t.Errorf("user content not kept verbatim:\n%s", out)
	}
	if !bytes.Contains(out, []byte("# new one\nNEW=x\n")) {
		t.Errorf("new key not added with its comment:\n%s", out)
	}
	if strings.Join(rep.Added, ",") != "NEW" || strings.Join(rep.Stale, ",") != "MINE" || rep.Created {
		t.Errorf("report %+v", rep)
	}
}

func TestSyncGeneratesAndRequires(t *testing.T) {
	tmpl := mustParse(t, "S=${secret}\nR=\n")
	_, _, err := Sync(tmpl, nil, SyncOptions{})
	if me, ok := err.(*MissingError); !ok || me.Keys[0] != "R" {
		t.Fatalf("want MissingError for R, got %v", err)
	}
	out, rep, err := Sync(tmpl, nil, SyncOptions{Getenv: func(k string) (string, bool) { return "from-env", k == "R" }})
	if err != nil {
		t.Fatal(err)
	}
	f := mustParse(t, string(out))
	if s, _ := f.Lookup("S"); len(s) != DefaultSecretLength {
		t.Errorf("generated %q", s)
	}
	if r, _ := f.Lookup("R"); r != "from-env" {
		t.Errorf("R = %q", r)
	}
	if !rep.Created || len(rep.Generated) != 1 {
		t.Errorf("report %+v", rep)
	}
}

func TestCheck(t *testing.T) {
	tmpl := mustParse(t, "A=1\nB=\nC=${secret}\n")
	d, _ := Check(tmpl, mustParse(t, "A=1\nB=\nX=2\n"))
	if strings.Join(d.Missing, ",") != "C" || strings.Join(d.Empty, ",") != "B" || strings.Join(d.Stale, ",") != "X" || d.Clean() {
		t.Errorf("drift %+v", d)
	}
	d, _ = Check(tmpl, nil)
	if !d.NoFile || d.Clean() {
		t.Errorf("drift %+v", d)
	}
}

func mustParse(t *testing.T, s string) *File {
	t.Helper()
	f, err := Parse("t", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// FuzzParse: any input parses or fails cleanly; every parsed value survives Format and Sync.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"A=1\n", "export B='x'\n", "C=\"a\\\"b\"\n", "# c\n\nD=\n", "E=${secret:12}\n", "bad line\n", "F=\"open\n", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data)
		if err != nil {
			if _, ok := err.(Errors); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		for _, k := range file.Keys() {
			v, _ := file.Lookup(k)
			back, err := Parse("again", []byte(Format(k, v)+"\n"))
			if err != nil {
				t.Fatalf("Format(%q, %q) does not parse: %v", k, v, err)
			}
			if got, _ := back.Lookup(k); got != v {
				t.Fatalf("Format(%q, %q) reads back %q", k, v, got)
			}
		}
		if _, err := Specs(file); err != nil {
			return
		}
		out, _, err := Sync(file, file, SyncOptions{})
		if err != nil {
			return
		}
		if !bytes.Contains(out, []byte{}) {
			t.Fatal("unreachable")
		}
	})
}

// Command gendata writes the data of the data-path benchmarks, the same on
// every machine for a given seed:
//
//	go run ./bench/gendata tree -o DIR -bytes N    # a volume's files (bench/offsite-path.sh)
//	go run ./bench/gendata redis -bytes N          # Redis commands (RESP) for redis-cli --pipe
//	go run ./bench/gendata ldif -entries N         # an LDAP directory as LDIF (bench/ldap-path.sh)
//
// tree writes many small files (log-uniform 512 B to 128 KiB, the bulk of
// the count) and then large ones (8 to 64 MiB, the bulk of the bytes) until
// N bytes are written, spread over user folders; a third of the files are
// text (which restic compresses), the rest random bytes, as photos, PDFs
// and office files (already compressed) are. redis writes session strings
// (random), distributed maps as hashes and queues as lists (text) until
// their values add up to N bytes. ldif writes a directory as Nubus holds
// one under dc=swp-ldap,dc=internal: users (inetOrgPerson with non-ASCII
// names, a password hash, a tenth of them with a photo of 2 to 8 KiB) in
// folders per school, and groups of 50 members, N entries in all.
package main

import (
	"bufio"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet("gendata "+os.Args[1], flag.ExitOnError)
	out := fs.String("o", "", "output folder (tree)")
	size := fs.Int64("bytes", 1<<30, "bytes to write")
	entries := fs.Int("entries", 100000, "entries to write (ldif)")
	seed := fs.Uint64("seed", 1, "random seed")
	_ = fs.Parse(os.Args[2:])
	g := newGen(*seed)
	var err error
	switch os.Args[1] {
	case "tree":
		if *out == "" {
			usage()
		}
		err = g.tree(*out, *size)
	case "redis":
		w := bufio.NewWriterSize(os.Stdout, 1<<20)
		if err = g.redis(w, *size); err == nil {
			err = w.Flush()
		}
	case "ldif":
		w := bufio.NewWriterSize(os.Stdout, 1<<20)
		if err = g.ldif(w, *entries); err == nil {
			err = w.Flush()
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gendata tree -o DIR [-bytes N] [-seed S] | gendata redis [-bytes N] [-seed S] | gendata ldif [-entries N] [-seed S]")
	os.Exit(2)
}

type gen struct {
	r     *rand.Rand    // choices
	bytes *rand.ChaCha8 // random contents
}

func newGen(seed uint64) *gen {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	return &gen{r: rand.New(rand.NewPCG(seed, 1)), bytes: rand.NewChaCha8(key)}
}

// logUniform is a size between lo and hi, uniform on a log scale.
func (g *gen) logUniform(lo, hi int) int {
	return int(math.Exp(math.Log(float64(lo)) + g.r.Float64()*(math.Log(float64(hi))-math.Log(float64(lo)))))
}

var words = []string{"der", "die", "das", "und", "Schule", "Unterricht", "Klasse", "Termin", "Elternabend",
	"Protokoll", "Beschluss", "Haushalt", "Antrag", "Mathematik", "Deutsch", "Vertretung", "Raum",
	"Konferenz", "Zeugnis", "Projekt", "Übersicht", "Grüße", "bitte", "danke", "nächste", "Woche",
	"2026", "Ergebnis", "Stundenplan", "Aufgabe", "Lösung", "Anhang", "siehe", "unten"}

// text fills b with words and line breaks.
func (g *gen) text(b []byte) {
	i := 0
	for i < len(b) {
		w := words[g.r.IntN(len(words))]
		i += copy(b[i:], w)
		if i < len(b) {
			if g.r.IntN(12) == 0 {
				b[i] = '\n'
			} else {
				b[i] = ' '
			}
			i++
		}
	}
}

// fill gives b text (a third of the calls) or random bytes.
func (g *gen) fill(b []byte) {
	if g.r.IntN(3) == 0 {
		g.text(b)
		return
	}
	_, _ = g.bytes.Read(b)
}

func (g *gen) tree(dir string, total int64) error {
	if _, err := os.Stat(dir); err == nil {
		return errors.New(dir + " exists")
	}
	buf := make([]byte, 64<<20)
	var written int64
	const small = 24000
	for i := 0; written < total; i++ {
		n := g.logUniform(8<<20, 64<<20)
		if i < small {
			n = g.logUniform(512, 128<<10)
		}
		user := g.r.IntN(200)
		kind := []string{"Dokumente", "Bilder", "Mail-Anhänge", "Projekte/2026"}[g.r.IntN(4)]
		p := filepath.Join(dir, fmt.Sprintf("user-%03d", user), kind, fmt.Sprintf("datei-%05d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		b := buf[:n]
		g.fill(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		written += int64(n)
	}
	return nil
}

// resp writes one Redis command in the protocol redis-cli --pipe sends.
func resp(w io.Writer, args ...[]byte) {
	fmt.Fprintf(w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(w, "$%d\r\n", len(a))
		_, _ = w.Write(a)
		_, _ = io.WriteString(w, "\r\n")
	}
}

func (g *gen) redis(w io.Writer, total int64) error {
	var written int64
	for i := 0; written < total; i++ {
		switch x := g.r.IntN(10); {
		case x < 7: // a session: one random string
			v := make([]byte, g.logUniform(256, 16<<10))
			_, _ = g.bytes.Read(v)
			resp(w, []byte("SET"), []byte(fmt.Sprintf("odbackup-bench:session:%08d", i)), v)
			written += int64(len(v))
		case x < 9: // a distributed map: a hash of text fields
			args := [][]byte{[]byte("HSET"), []byte(fmt.Sprintf("odbackup-bench:map:%08d", i))}
			for f := range 20 + g.r.IntN(80) {
				v := make([]byte, 16+g.r.IntN(240))
				g.text(v)
				args = append(args, []byte("feld-"+strconv.Itoa(f)), v)
				written += int64(len(v))
			}
			resp(w, args...)
		default: // a queue: a list of text items
			args := [][]byte{[]byte("RPUSH"), []byte(fmt.Sprintf("odbackup-bench:queue:%08d", i))}
			for range 50 + g.r.IntN(450) {
				v := make([]byte, 32+g.r.IntN(480))
				g.text(v)
				args = append(args, v)
				written += int64(len(v))
			}
			resp(w, args...)
		}
	}
	return nil
}

// ldif writes n entries: the base, then per school a folder, its users and
// a group of each 50 of them.
func (g *gen) ldif(w io.Writer, n int) error {
	const base = "dc=swp-ldap,dc=internal"
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	fmt.Fprintf(w, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: swp-ldap\no: openDesk bench\n\n", base)
	written := 1
	for school := 0; written < n; school++ {
		ou := fmt.Sprintf("ou=schule-%04d,%s", school, base)
		fmt.Fprintf(w, "dn: %s\nobjectClass: organizationalUnit\nou: schule-%04d\ndescription:: %s\n\n", ou, school, b64([]byte("Schule "+strconv.Itoa(school)+" – Benutzer und Gruppen")))
		written++
		var members []string
		for u := 0; u < 500 && written < n; u++ {
			uid := fmt.Sprintf("s%04d.u%03d", school, u)
			dn := "uid=" + uid + "," + ou
			pw := make([]byte, 24)
			_, _ = g.bytes.Read(pw)
			fmt.Fprintf(w, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn:: %s\nsn:: %s\ngivenName:: %s\nmail: %s@schule-%04d.example.org\nuserPassword: {SSHA}%s\n",
				dn, uid, b64([]byte(fmt.Sprintf("Jürgen Müller-%s", uid))), b64([]byte("Müller-"+uid)), b64([]byte("Jürgen")), uid, school, b64(pw))
			if g.r.IntN(10) == 0 {
				photo := make([]byte, g.logUniform(2<<10, 8<<10))
				_, _ = g.bytes.Read(photo)
				fmt.Fprintf(w, "jpegPhoto:: %s\n", b64(photo))
			}
			_, _ = io.WriteString(w, "\n")
			written++
			members = append(members, dn)
			if len(members) == 50 && written < n {
				fmt.Fprintf(w, "dn: cn=klasse-%03d,%s\nobjectClass: groupOfNames\ncn: klasse-%03d\n", u/50, ou, u/50)
				for _, m := range members {
					fmt.Fprintf(w, "member: %s\n", m)
				}
				_, _ = io.WriteString(w, "\n")
				written++
				members = members[:0]
			}
		}
	}
	return nil
}

// Package inventory reads what a namespace holds, for odbackup preflight:
// from a file (the List that `kubectl get
// pvc,statefulsets,deployments,cronjobs,secrets,configmaps,services -n NS
// -o json` prints) or from a cluster through client-go, with list requests
// only.
//
// It keeps names and, of Secrets and ConfigMaps, data keys: values are
// skipped while decoding and never stored (the annotations that may carry
// them, such as kubectl's last-applied-configuration, are not decoded at
// all). Lists are decoded item by item, so memory holds one item at a time.
// It does not compare anything: that is generator/preflight's job.
package inventory

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/odbackup/odbackup/generator/preflight"
)

// MaxBytes is the most an inventory file (or one page of a list from the
// API server) may have. A namespace's List is a few MiB to a few hundred
// (Helm keeps release history in Secrets); a bigger input is a mistake,
// and reading it would only take time.
const MaxBytes int64 = 512 << 20

// maxBytes is MaxBytes; tests lower it.
var maxBytes = MaxBytes

// Command is the kubectl command whose output ReadFile reads.
const Command = "kubectl get pvc,statefulsets,deployments,cronjobs,secrets,configmaps,services --namespace=%s --output=json"

// ReadFile reads an inventory file ("-" for standard input) that must hold
// only objects of namespace. Every error is one line that starts with the
// file's name.
func ReadFile(path, namespace string, stdin io.Reader) (preflight.Inventory, error) {
	if path == "-" {
		return Read(stdin, "stdin", namespace)
	}
	f, err := os.Open(path)
	if err != nil {
		return preflight.Inventory{}, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxBytes {
		return preflight.Inventory{}, fmt.Errorf("%s: %s is more than an inventory can be (at most %s); it should hold only what `%s` prints",
			path, sizeWords(fi.Size()), sizeWords(maxBytes), fmt.Sprintf(Command, namespace))
	}
	inv, err := read(f, path, namespace)
	var se *syntaxError
	if errors.As(err, &se) {
		// Name the line and column: scan the file again up to the error.
		if line, col, ok := position(path); ok {
			return inv, fmt.Errorf("%s:%d:%d: %s", path, line, col, se.msg)
		}
		return inv, fmt.Errorf("%s: %s", path, se.msg)
	}
	return inv, err
}

// Read reads an inventory from r; name is what messages call it.
func Read(r io.Reader, name, namespace string) (preflight.Inventory, error) {
	inv, err := read(r, name, namespace)
	var se *syntaxError
	if errors.As(err, &se) {
		return inv, fmt.Errorf("%s: %s", name, se.msg)
	}
	return inv, err
}

func read(r io.Reader, name, namespace string) (preflight.Inventory, error) {
	b := newBuilder(namespace)
	d := &listDecoder{name: name, listKind: "List", b: b}
	if _, err := d.decode(r); err != nil {
		return preflight.Inventory{}, err
	}
	return b.inventory(), nil
}

// builder collects the names of a namespace's objects.
type builder struct {
	inv  preflight.Inventory
	seen map[[2]string]bool
}

func newBuilder(namespace string) *builder {
	return &builder{
		inv:  preflight.Inventory{Namespace: namespace, Secrets: map[string][]string{}, ConfigMaps: map[string][]string{}},
		seen: map[[2]string]bool{},
	}
}

// add records one object; kinds preflight does not check are skipped.
func (b *builder) add(kind, name string, keys []string) {
	id := [2]string{kind, name}
	if b.seen[id] {
		return
	}
	b.seen[id] = true
	switch kind {
	case "PersistentVolumeClaim":
		b.inv.Claims = append(b.inv.Claims, name)
	case "StatefulSet":
		b.inv.StatefulSets = append(b.inv.StatefulSets, name)
	case "Deployment":
		b.inv.Deployments = append(b.inv.Deployments, name)
	case "CronJob":
		b.inv.CronJobs = append(b.inv.CronJobs, name)
	case "Service":
		b.inv.Services = append(b.inv.Services, name)
	case "Secret":
		b.inv.Secrets[name] = sortedUnique(keys)
	case "ConfigMap":
		b.inv.ConfigMaps[name] = sortedUnique(keys)
	}
}

func (b *builder) inventory() preflight.Inventory {
	for _, s := range []*[]string{&b.inv.Claims, &b.inv.StatefulSets, &b.inv.Deployments, &b.inv.CronJobs, &b.inv.Services} {
		slices.Sort(*s)
	}
	return b.inv
}

// listDecoder decodes one List document item by item.
type listDecoder struct {
	name string
	// listKind is the kind the document must have: "List" for kubectl's
	// output, "SecretList" and so on for the API server's.
	listKind string
	// itemKind is the kind of items without one (the API server's typed
	// lists leave it out).
	itemKind string
	b        *builder
}

// item is the part of an object preflight reads: no values.
type item struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Data       keys `json:"data"`
	BinaryData keys `json:"binaryData"`
	StringData keys `json:"stringData"`
}

// keys decodes a JSON object into its keys; the values are skipped.
type keys []string

func (k *keys) UnmarshalJSON(data []byte) error {
	var m map[string]skip
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*k = make(keys, 0, len(m))
	for key := range m {
		*k = append(*k, key)
	}
	return nil
}

// skip decodes any JSON value into nothing: a Secret's value is never
// turned into a string.
type skip struct{}

func (*skip) UnmarshalJSON([]byte) error { return nil }

// syntaxError is a JSON syntax error; ReadFile adds its line and column.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

// countingReader counts the bytes read and stops after maxBytes.
type countingReader struct {
	r io.Reader
	n int64
}

var errTooBig = errors.New("too big")

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n > maxBytes {
		return 0, errTooBig
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decode reads the List and returns its metadata.continue.
func (d *listDecoder) decode(r io.Reader) (string, error) {
	cr := &countingReader{r: r}
	dec := json.NewDecoder(bufio.NewReaderSize(cr, 64<<10))
	fail := func(err error) (string, error) {
		var se *json.SyntaxError
		switch {
		case errors.Is(err, errTooBig):
			return "", fmt.Errorf("%s: more than an inventory can be (at most %s)", d.name, sizeWords(maxBytes))
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return "", fmt.Errorf("%s: not JSON: it ends early (truncated?)", d.name)
		case errors.As(err, &se):
			msg := se.Error()
			if strings.HasSuffix(msg, "in string literal") {
				// The character may be part of a Secret's value: not named.
				msg = "a string holds a character JSON does not allow (a control character or a bad escape)"
			}
			return "", &syntaxError{msg: "not JSON: " + msg}
		}
		return "", fmt.Errorf("%s: %v", d.name, err)
	}
	tok, err := dec.Token()
	if err != nil {
		return fail(err)
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return "", fmt.Errorf("%s: not a List: the document is %s, not an object with kind List (it should be what `%s` prints)",
			d.name, tokenWords(tok), fmt.Sprintf(Command, d.b.inv.Namespace))
	}
	var kind, cont string
	sawItems := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := tok.(string)
		switch key {
		case "kind":
			if err := dec.Decode(&kind); err != nil {
				return fail(fmt.Errorf("kind: %v", err))
			}
		case "metadata":
			var md struct {
				Continue string `json:"continue"`
			}
			if err := dec.Decode(&md); err != nil {
				return fail(fmt.Errorf("metadata: %v", err))
			}
			cont = md.Continue
		case "items":
			sawItems = true
			if err := d.items(dec, fail); err != nil {
				return "", err
			}
		default:
			var s skip
			if err := dec.Decode(&s); err != nil {
				return fail(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", fmt.Errorf("%s: not a List: more than one JSON document", d.name)
	}
	if kind != d.listKind || !sawItems {
		what := "an object without kind"
		if kind != "" {
			what = "a " + kind
		}
		return "", fmt.Errorf("%s: not a List: the document is %s, not a List with items (it should be what `%s` prints)",
			d.name, what, fmt.Sprintf(Command, d.b.inv.Namespace))
	}
	return cont, nil
}

// items decodes the items array one item at a time.
func (d *listDecoder) items(dec *json.Decoder, fail func(error) (string, error)) error {
	tok, err := dec.Token()
	if err != nil {
		_, err = fail(err)
		return err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '[' {
		return fmt.Errorf("%s: not a List: items is %s, not an array", d.name, tokenWords(tok))
	}
	for n := 1; dec.More(); n++ {
		var it item
		if err := dec.Decode(&it); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return fmt.Errorf("%s: item %d: %s is a JSON %s, not %s", d.name, n, fieldWords(te.Field), te.Value, typeWords(te.Type))
			}
			_, err = fail(err)
			return err
		}
		kind := it.Kind
		if kind == "" {
			kind = d.itemKind
		}
		switch {
		case kind == "":
			return fmt.Errorf("%s: item %d has no kind", d.name, n)
		case it.Metadata.Name == "":
			return fmt.Errorf("%s: item %d (%s) has no metadata.name", d.name, n, kind)
		case it.Metadata.Namespace != d.b.inv.Namespace:
			ns := "no namespace"
			if it.Metadata.Namespace != "" {
				ns = "namespace " + it.Metadata.Namespace
			}
			return fmt.Errorf("%s: item %d (%s %s) is in %s, but the site's namespace is %s: list only that namespace (`%s`)",
				d.name, n, kind, it.Metadata.Name, ns, d.b.inv.Namespace, fmt.Sprintf(Command, d.b.inv.Namespace))
		}
		d.b.add(kind, it.Metadata.Name, slices.Concat(it.Data, it.BinaryData, it.StringData))
	}
	_, err = dec.Token()
	if err != nil {
		_, err = fail(err)
	}
	return err
}

func fieldWords(field string) string {
	if field == "" {
		return "it"
	}
	return field
}

// typeWords says what JSON a Go type decodes.
func typeWords(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice:
		return "an array"
	}
	return t.String()
}

func tokenWords(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// position finds the line and column of a file's first JSON syntax error.
// The streaming decoder's offsets are relative to where it last refilled
// its buffer, so the file is scanned again from its start as one value,
// whose error offset counts from byte 0 (it points just past the bad
// character). Only the error path reads the file twice.
func position(path string) (line, col int, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	var v skip
	var se *json.SyntaxError
	if err := json.NewDecoder(io.LimitReader(f, maxBytes)).Decode(&v); !errors.As(err, &se) || se.Offset < 1 {
		return 0, 0, false
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, false
	}
	r := bufio.NewReader(io.LimitReader(f, se.Offset-1))
	line, col = 1, 1
	for {
		c, err := r.ReadByte()
		if err != nil {
			break
		}
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col, true
}

func sizeWords(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func sortedUnique(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return slices.Compact(out)
}

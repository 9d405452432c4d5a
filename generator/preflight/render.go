package preflight

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// JSON renders the report as odbackup.preflight/v1: sorted, with no clock
// and no host paths.
func JSON(r Report) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// filesShown is how many files the text format names per finding; JSON
// names them all.
const filesShown = 3

// Text renders the report for a terminal.
func Text(r Report) []byte {
	var b strings.Builder
	c := r.Inventory
	fmt.Fprintf(&b, "Preflight: site %s, namespace %s\n", r.Site, r.Namespace)
	fmt.Fprintf(&b, "The namespace has %s, %s, %s, %s, %s, %s, %s.\n",
		count(c.Claims, "claim"), count(c.StatefulSets, "StatefulSet"), count(c.Deployments, "Deployment"), count(c.CronJobs, "CronJob"),
		count(c.Secrets, "Secret"), count(c.ConfigMaps, "ConfigMap"), count(c.Services, "Service"))
	if len(r.Missing) > 0 {
		fmt.Fprintf(&b, "\nMissing (%d): the generated files need these, and the namespace lacks them\n", len(r.Missing))
		for _, m := range r.Missing {
			fmt.Fprintf(&b, "  %s %s: %s\n", m.Kind, m.Name, missingWords(m))
			fmt.Fprintf(&b, "      needed by %s\n", filesWords(m.Files))
		}
	}
	if len(r.Unaccounted) > 0 {
		fmt.Fprintf(&b, "\nClaims no store accounts for (%d): data nobody decided about\n", len(r.Unaccounted))
		for _, u := range r.Unaccounted {
			fmt.Fprintf(&b, "  PersistentVolumeClaim %s\n", u.Claim)
			for _, s := range u.Stores {
				fmt.Fprintf(&b, "      named by store %s, which decides nothing here (%s)\n", s.Store, s.Status)
			}
		}
		b.WriteString("  Decide about each: if a store's claim was renamed, set stores.\"<id>\".connection.claim; if it\n" +
			"  belongs to an app the catalog lacks, declare the app under extraApps with a pvc store; if its app\n" +
			"  runs here, set apps.<id>.deployed: true.\n")
	}
	if len(r.Unchecked) > 0 {
		fmt.Fprintf(&b, "\nNot checked (%d): preflight sees only the namespace\n", len(r.Unchecked))
		for _, u := range r.Unchecked {
			what := u.What + ": " + u.Why
			if len(u.For) > 0 {
				what += "; for " + strings.Join(u.For, ", ")
			}
			fmt.Fprintf(&b, "  %s\n", what)
			if len(u.Files) > 0 {
				fmt.Fprintf(&b, "      used by %s\n", filesWords(u.Files))
			}
		}
	}
	b.WriteString("\n")
	switch {
	case r.OK():
		fmt.Fprintf(&b, "OK: all %d objects the generated files need are there, with their keys, and every claim is accounted for.\n", r.Checked)
	default:
		fmt.Fprintf(&b, "FAILED: %d of %d objects missing or incomplete, %s unaccounted for.\n",
			len(r.Missing), r.Checked, count(len(r.Unaccounted), "claim"))
	}
	return []byte(b.String())
}

func missingWords(m Missing) string {
	switch {
	case m.ObjectMissing && len(m.Keys) > 0:
		return fmt.Sprintf("not in the namespace (keys needed: %s)", strings.Join(m.Keys, ", "))
	case m.ObjectMissing:
		return "not in the namespace"
	}
	has := "it has no keys"
	if len(m.HasKeys) > 0 {
		has = "it has " + strings.Join(m.HasKeys, ", ")
	}
	word := "key"
	if len(m.Keys) > 1 {
		word = "keys"
	}
	return fmt.Sprintf("no %s %s (%s)", word, strings.Join(m.Keys, ", "), has)
}

func filesWords(files []string) string {
	if len(files) == 0 {
		return "the site's plan"
	}
	if len(files) <= filesShown {
		return strings.Join(files, ", ")
	}
	return fmt.Sprintf("%s and %d more (--format json lists all)", strings.Join(files[:filesShown], ", "), len(files)-filesShown)
}

// count is "1 claim", "2 claims".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

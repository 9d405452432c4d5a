package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// RedisFingerprint describes every key of databases 0 and 3 whose name
// starts with prefix: its type, its value (as redis-cli quotes it, so
// binary values compare exactly; hash fields and set members sorted) and
// whether it expires.
func (e *Env) RedisFingerprint(t testing.TB, port, prefix string) string {
	t.Helper()
	cli := func(db string, args ...string) string {
		t.Helper()
		r := Run(t, Cmd{Args: append([]string{"redis-cli", "-h", e.Redis.Host, "-p", port, "-n", db, "--no-raw"}, args...), Env: e.RedisEnv()})
		if !r.OK() {
			t.Fatalf("redis-cli: %s", r)
		}
		return r.Stdout
	}
	var b strings.Builder
	for _, db := range []string{"0", "3"} {
		keys := strings.Fields(strings.ReplaceAll(cli(db, "--scan", "--pattern", prefix+"*"), `"`, ""))
		slices.Sort(keys)
		for _, k := range keys {
			typ := strings.TrimSpace(cli(db, "TYPE", k))
			var v string
			switch typ {
			case "string":
				v = cli(db, "GET", k)
			case "hash":
				items := unnumbered(cli(db, "HGETALL", k))
				var pairs []string
				for i := 0; i+1 < len(items); i += 2 {
					pairs = append(pairs, items[i]+" = "+items[i+1])
				}
				slices.Sort(pairs)
				v = strings.Join(pairs, "\n")
			case "list":
				v = cli(db, "LRANGE", k, "0", "-1")
			case "set":
				v = strings.Join(slices.Sorted(slices.Values(unnumbered(cli(db, "SMEMBERS", k)))), "\n")
			case "zset":
				v = cli(db, "ZRANGE", k, "0", "-1", "WITHSCORES")
			case "stream":
				v = cli(db, "XRANGE", k, "-", "+")
			default:
				t.Fatalf("key %s: unexpected type %s", k, typ)
			}
			expires := strings.TrimSpace(cli(db, "TTL", k)) != "(integer) -1"
			fmt.Fprintf(&b, "db %s key %s type %s expires %v\n%s\n", db, k, typ, expires, v)
		}
	}
	return b.String()
}

// unnumbered splits redis-cli's list output into its items, without the
// "1) " numbering.
func unnumbered(out string) []string {
	var items []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if _, item, ok := strings.Cut(l, ") "); ok {
			items = append(items, item)
		} else if l != "" {
			items = append(items, l)
		}
	}
	return items
}

// TestRedisRoundTrip backs up OX App Suite's Redis (opted in) with the
// generated redis-cli --rdb step, empties it, and restores it as the
// generated restore Job does: the Job refuses while the StatefulSet has
// replicas, then writes dump.rdb (the old files kept aside) and an
// append-only base into the volume (a directory here). A Redis started on
// that directory loads the dump.rdb, and every key is compared; one with
// appendonly on loads the append-only base: Redis 7
// loads only that one when appendonly is on.
func TestRedisRoundTrip(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	p := Unique("e2e:")
	cli := func(stdin string, args ...string) {
		t.Helper()
		r := Run(t, Cmd{Args: append([]string{"redis-cli", "-h", e.Redis.Host, "-p", e.Redis.Port}, args...), Env: e.RedisEnv(), Stdin: strings.NewReader(stdin)})
		if !r.OK() || strings.Contains(r.Stdout, "ERR") {
			t.Fatalf("redis-cli: %s", r)
		}
	}
	cli("", "SET", p+"str", "Grüße 日本語 🙂")
	cli(string(randomBytes(t, 300))+"\x00\r\n", "-x", "SET", p+"bin")
	hash := []string{"HSET", p + "hash"}
	for i := range 300 {
		hash = append(hash, fmt.Sprintf("feld-%d", i), fmt.Sprintf("Wert %d ✓", i))
	}
	cli("", hash...)
	cli("", "RPUSH", p+"list", "eins", "zwei", "drei", "", "vier")
	cli("", "SADD", p+"set", "a", "b", "ü", "🙂")
	cli("", "ZADD", p+"zset", "1.5", "a", "-2", "b", "1e10", "c")
	cli("", "XADD", p+"stream", "1-1", "user", "anna", "action", "login")
	cli("", "XADD", p+"stream", "2-5", "user", "bernd", "action", "logout")
	cli("", "SET", p+"session", "expires later", "EX", "100000")
	cli("", "INCRBY", p+"counter", "41")
	cli("", "-n", "3", "SET", p+"db3", "in another database")
	before := e.RedisFingerprint(t, e.Redis.Port, p)
	if n := len(regexp.MustCompile(`(?m)^db [03] key `).FindAllString(before, -1)); n != 10 {
		t.Fatalf("the test keys are not all there:\n%s", before)
	}

	s := e.BuildSite(t, SiteSpec{
		Apps:   []string{"ox-appsuite"},
		Policy: `stores: "ox-appsuite/redis/cache": backup: true` + "\n",
	})
	const store = "ox-appsuite/redis/cache"
	backup := s.Backup(t, store)
	s.Secrets[backup.SecretRef(t, "REDISCLI_AUTH")] = e.Redis.Password
	backup.MustRun(t, nil)
	if snaps := e.Snapshots(t, s.RepoEnv(t), "--tag", "store="+store); len(snaps) != 1 || !slices.Contains(snaps[0].Paths, "/dump.rdb") {
		t.Fatalf("snapshots of %s: %+v, want one of /dump.rdb", store, snaps)
	}

	// The disaster: Redis is emptied, junk written.
	cli("", "FLUSHALL")
	cli("", "SET", p+"junk", "after the backup")

	// The restore Job refuses while the StatefulSet runs.
	restore := s.Restore(t, store, "redis-rdb")
	m := regexpFind(t, `k get (statefulset/[a-z0-9-]+) --output=jsonpath='\{\.spec\.replicas\}`, restore.Script())
	name := strings.TrimPrefix(m, "statefulset/")
	e.MustApply(t, s.Namespace, statefulSet(name, 1))
	data := t.TempDir()
	writeFile(t, filepath.Join(data, "dump.rdb"), []byte("the broken one"))
	writeFile(t, filepath.Join(data, "appendonlydir", "appendonly.aof.1.base.rdb"), []byte("old"))
	env := map[string]string{"ODBACKUP_DATA_DIR": data}
	if r := restore.Run(t, env); r.OK() || !strings.Contains(r.Stderr, "scale it to 0") {
		t.Fatalf("the restore ran while %s has replicas:\n%s", m, r)
	}
	if got := readFile(t, filepath.Join(data, "dump.rdb")); got != "the broken one" {
		t.Fatal("the refused restore changed dump.rdb")
	}
	e.MustApply(t, s.Namespace, statefulSet(name, 0))
	restore.MustRun(t, env)
	dump := readFile(t, filepath.Join(data, "dump.rdb"))
	if !strings.HasPrefix(dump, "REDIS") {
		t.Fatalf("dump.rdb is no RDB file: %q", dump[:min(len(dump), 20)])
	}
	if base := readFile(t, filepath.Join(data, "appendonlydir", "appendonly.aof.1.base.rdb")); base != dump {
		t.Error("the append-only base differs from dump.rdb")
	}
	kept, _ := filepath.Glob(filepath.Join(data, "*.before-restore-*"))
	if len(kept) != 2 {
		t.Errorf("the old dump.rdb and appendonlydir are not kept aside: %v", kept)
	}

	// A Redis started on the volume loads dump.rdb (appendonly off) ...
	port := startRedis(t, e, data, false)
	if got := e.RedisFingerprint(t, port, p); got != before {
		t.Errorf("Redis after the restore:\n%s", lineDiff(before, got))
	}
	// ... or, with appendonly on, the append-only base instead.
	port = startRedis(t, e, data, true)
	if got := e.RedisFingerprint(t, port, p); got != before {
		t.Errorf("Redis with appendonly on, after the restore:\n%s", lineDiff(before, got))
	}
}

// startRedis starts a redis-server of this test only, on a free port,
// serving dir (requirepass as the test server's), with appendonly on or
// off, until the test ends: a Redis that starts on the restored files.
func startRedis(t *testing.T, e *Env, dir string, appendonly bool) string {
	t.Helper()
	port := freePort(t)
	aof := "no"
	if appendonly {
		aof = "yes"
	}
	StartServer(t, []string{"redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir,
		"--appendonly", aof, "--appenddirname", "appendonlydir", "--dbfilename", "dump.rdb", "--save", "", "--requirepass", e.Redis.Password},
		Cmd{Args: []string{"redis-cli", "-p", port, "PING"}, Env: e.RedisEnv()})
	return port
}

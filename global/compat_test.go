package global

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testdata/raft-boltdb-msgpack-v0.5.5.db holds one log entry (index 1,
// term 3, data "hello", AppendedAt 2026-01-02T03:04:05.000006Z) written by
// raft-boltdb built with go-msgpack v0.5.5, as every boltdb data dir before
// raft-wal joined the module was. It must still decode (go.mod pins
// go-msgpack to v0.5.5: v1.1.5 fails on AppendedAt).
func TestBoltDBLogFormatCompat(t *testing.T) {
	b, err := os.ReadFile("testdata/raft-boltdb-msgpack-v0.5.5.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), boltFile)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := openBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var l raft.Log
	if err := db.GetLog(1, &l); err != nil {
		t.Fatalf("entry written with go-msgpack v0.5.5: %v", err)
	}
	want := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	if l.Term != 3 || string(l.Data) != "hello" || !l.AppendedAt.Equal(want) {
		t.Fatalf("decoded %+v", l)
	}
}

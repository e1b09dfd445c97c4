package transport

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"testing"
)

// fuzzRW feeds in to the side under test and records what it writes.
type fuzzRW struct {
	in  io.Reader
	out bytes.Buffer
}

func (f *fuzzRW) Read(p []byte) (int, error)  { return f.in.Read(p) }
func (f *fuzzRW) Write(p []byte) (int, error) { return f.out.Write(p) }

// refMAC is the proof as the layout in auth_proof.go defines it, written
// again independently of streamMAC.
func refMAC(key []byte, role string, version byte, cluster, node string, nonceA, nonceD []byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, f := range [][]byte{[]byte("roster-stream/" + role), {version}, []byte(cluster), []byte(node), nonceA, nonceD} {
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f))))
		m.Write(f)
	}
	return m.Sum(nil)
}

// refHello is a dialer's message built from the documented layout.
func refHello(key []byte, version byte, cluster, node string, nonceA, nonceD []byte) []byte {
	b := []byte{version, byte(len(node))}
	b = append(b, node...)
	b = append(b, byte(len(cluster)))
	b = append(b, cluster...)
	b = append(b, nonceD...)
	return append(b, refMAC(key, "dialer", version, cluster, node, nonceA, nonceD)...)
}

// FuzzStreamAccept feeds the acceptor arbitrary dialer messages. Invariants:
// the acceptor accepts only a message carrying a valid proof by the key
// (the fuzzer does not know it), and then only the exact bytes the layout
// defines; before accepting it writes nothing but its nonce. Every
// truncation, and every one-byte corruption, of a valid transcript is
// refused, and a valid one is accepted.
func FuzzStreamAccept(f *testing.F) {
	key := bytes.Repeat([]byte{0x5a}, 32)
	nonceA := bytes.Repeat([]byte{0xa1}, 32)
	nonceD := bytes.Repeat([]byte{0xd2}, 32)
	valid := refHello(key, StreamVersion, "roster", "peer-1", nonceA, nonceD)
	f.Add(valid, uint16(0), byte(0))
	f.Add(valid, uint16(7), byte(1))
	f.Add(refHello(bytes.Repeat([]byte{1}, 32), StreamVersion, "roster", "peer-1", nonceA, nonceD), uint16(0), byte(0))
	f.Add([]byte{StreamVersion, 255}, uint16(3), byte(0xff))
	f.Add([]byte{}, uint16(0), byte(0))
	p := &streamParams{cluster: "roster", node: "self", keys: [][]byte{bytes.Repeat([]byte{0x77}, 32), key}}

	accept := func(in []byte) (NodeID, []byte, error) {
		rw := &fuzzRW{in: bytes.NewReader(in)}
		id, err := streamAccept(rw, p, nonceA)
		return id, rw.out.Bytes(), err
	}
	f.Fuzz(func(t *testing.T, data []byte, pos uint16, flip byte) {
		// 1. Arbitrary input.
		id, out, err := accept(data)
		if err != nil {
			if !bytes.Equal(out, nonceA) {
				t.Fatalf("refused, yet wrote %d bytes beyond the nonce", len(out)-len(nonceA))
			}
		} else {
			if len(data) < 2 {
				t.Fatal("accepted a message too short to hold a node id")
			}
			h, herr := readStreamHello(bytes.NewReader(data))
			if herr != nil {
				t.Fatalf("accepted an unreadable message: %v", herr)
			}
			want := refHello(key, StreamVersion, "roster", string(id), nonceA, h.nonceD)
			if !bytes.HasPrefix(data, want) || h.node != id {
				t.Fatalf("accepted a message that is not a valid proof by the key: %x", data)
			}
			wantOut := append(append([]byte(nil), nonceA...), refMAC(key, "acceptor", StreamVersion, "roster", string(id), nonceA, h.nonceD)...)
			if !bytes.Equal(out, wantOut) {
				t.Fatal("acceptor proof does not follow the layout")
			}
		}
		// 2. The valid transcript, corrupted at one byte or truncated.
		if flip != 0 {
			bad := append([]byte(nil), valid...)
			bad[int(pos)%len(bad)] ^= flip
			if _, _, err := accept(bad); err == nil {
				t.Fatalf("accepted the valid transcript with byte %d flipped by %#x", int(pos)%len(bad), flip)
			}
		}
		if cut := int(pos) % len(valid); cut > 0 {
			if _, _, err := accept(valid[:cut]); err == nil {
				t.Fatalf("accepted the valid transcript cut to %d bytes", cut)
			}
		}
		// 3. The valid one is accepted.
		if id, _, err := accept(valid); err != nil || id != "peer-1" {
			t.Fatalf("valid transcript: %q, %v", id, err)
		}
	})
}

// FuzzStreamDial feeds the dialer arbitrary acceptor bytes (nonce, proof):
// it succeeds only when the proof is the key's over the nonce it was given.
func FuzzStreamDial(f *testing.F) {
	key := bytes.Repeat([]byte{0x5a}, 32)
	nonceD := bytes.Repeat([]byte{0xd2}, 32)
	nonceA := bytes.Repeat([]byte{0xa1}, 32)
	good := append(append([]byte(nil), nonceA...), refMAC(key, "acceptor", StreamVersion, "roster", "me", nonceA, nonceD)...)
	f.Add(good)
	f.Add(good[:40])
	f.Add(append(append([]byte(nil), nonceA...), make([]byte, 32)...))
	p := &streamParams{cluster: "roster", node: "me", keys: [][]byte{key}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rw := &fuzzRW{in: bytes.NewReader(data)}
		err := streamDial(rw, p, nonceD)
		if err != nil {
			return
		}
		if len(data) < 64 {
			t.Fatal("dial succeeded on a short answer")
		}
		gotA := data[:32]
		if !hmac.Equal(data[32:64], refMAC(key, "acceptor", StreamVersion, "roster", "me", gotA, nonceD)) {
			t.Fatalf("dial accepted an acceptor proof not made with the key: %x", data)
		}
		if !bytes.Equal(rw.out.Bytes(), refHello(key, StreamVersion, "roster", "me", gotA, nonceD)) {
			t.Fatal("dialer message does not follow the layout")
		}
	})
}

package audit_test

import (
	"bytes"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
)

// fuzzSigner signs the fuzz targets' exports (a fixed seed: the corpus stays meaningful).
var fuzzSigner = func() *auditlog.Signer {
	s, err := auditlog.ParseSigningKey(hex.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		panic(err)
	}
	return s
}()

// offlineExport is a valid signed export of n events, built without a database with the
// exported encoders (AppendEventLine, ChainHash, HeadLine), and its head.
func offlineExport(tb testing.TB, n int) ([]byte, audit.Head) {
	tenant := uuid.MustParse("0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b")
	var file []byte
	var prev [32]byte
	at := time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC)
	for seq := int64(1); seq <= int64(n); seq++ {
		e := eventstore.Event{TenantID: tenant, Seq: seq, StreamID: "usage", StreamVersion: seq,
			ID: uuid.NewSHA1(tenant, []byte{byte(seq)}), Type: "usage.recorded", SchemaVersion: 1,
			Data: []byte(`{"metric": "api_calls", "quantity": 1}`), Metadata: []byte(`{"actor": "key:x"}`),
			RecordedAt: at.Add(time.Duration(seq) * time.Second), PrevHash: prev}
		e.Hash = eventstore.ChainHash(prev, &e)
		prev = e.Hash
		var err error
		if file, err = audit.AppendEventLine(file, &e); err != nil {
			tb.Fatal(err)
		}
	}
	head := fuzzSigner.Sign(tenant, int64(n), prev, at.Add(time.Hour))
	line, err := auditlog.HeadLine(head)
	if err != nil {
		tb.Fatal(err)
	}
	return append(file, line...), head
}

var problems = []string{audit.ProblemMalformed, audit.ProblemTenant, audit.ProblemNumbering, audit.ProblemLink, audit.ProblemHash,
	audit.ProblemTruncated, audit.ProblemHead, audit.ProblemSignature, audit.ProblemEarlierHead}

// FuzzVerify: the offline verifier over arbitrary export bytes and head files (what an
// auditor feeds `tenantry audit verify --file --head`). It never panics and never fails to
// read an in-memory file; its verdict is well formed (OK with no problem, or one of the
// documented problems) and the same on every run (lines are parsed in parallel); and any
// one byte changed in a valid signed export is caught.
func FuzzVerify(f *testing.F) {
	good, head := offlineExport(f, 3)
	headLine, _ := auditlog.HeadLine(head)
	{ // the fixture itself verifies, also against its own head as the earlier one
		for _, earlier := range []*audit.Head{nil, &head} {
			rep, err := audit.Verify(bytes.NewReader(good), audit.VerifyOptions{PublicKey: fuzzSigner.PublicKey(), Earlier: earlier})
			if err != nil || !rep.OK || !rep.Signed || rep.Events != 3 {
				f.Fatalf("the offline export does not verify: %+v, %v", rep, err)
			}
		}
	}
	one, _ := offlineExport(f, 1)
	f.Add(good, headLine, uint32(0), byte(0), true)
	f.Add(good, []byte{}, uint32(100), byte(1), true)
	f.Add(one, headLine, uint32(7), byte(0x20), false)
	f.Add(bytes.ReplaceAll(good, []byte(`"seq":2`), []byte(`"seq": 2 `)), []byte(`{"head":{}}`), uint32(0), byte(0), true)
	f.Add(good[:len(good)/2], []byte(`{"tenant_id":"0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b","seq":1,"hash":"`+string(bytes.Repeat([]byte("0"), 64))+`"}`),
		uint32(3), byte(0x80), true)
	f.Add([]byte("\n\n{\"head\":null}\n"), []byte("null"), uint32(0), byte(0), false)
	f.Add([]byte{}, []byte{0xff}, uint32(0), byte(0), false)

	f.Fuzz(func(t *testing.T, file, headFile []byte, pos uint32, flip byte, withKey bool) {
		opts := audit.VerifyOptions{}
		if withKey {
			opts.PublicKey = fuzzSigner.PublicKey()
		}
		if h, err := audit.ParseHead(headFile); err == nil {
			opts.Earlier = &h
		}
		rep, err := audit.Verify(bytes.NewReader(file), opts)
		if err != nil {
			t.Fatalf("reading an in-memory export failed: %v", err)
		}
		if rep.OK != (rep.Problem == "") || (rep.OK && rep.FirstBadSeq != 0) || (!rep.OK && !slices.Contains(problems, rep.Problem)) {
			t.Fatalf("ill-formed verdict: %+v", rep)
		}
		if rep.Signed && !withKey {
			t.Fatalf("signed without a public key: %+v", rep)
		}
		again, err := audit.Verify(bytes.NewReader(file), opts)
		if err != nil || again != rep {
			t.Fatalf("two runs disagree: %+v then %+v (%v)", rep, again, err)
		}

		// One byte of a valid signed export changed (all but the final newline): caught.
		if flip == 0 {
			return
		}
		bad := slices.Clone(good)
		bad[int(pos)%(len(bad)-1)] ^= flip
		rep, err = audit.Verify(bytes.NewReader(bad), audit.VerifyOptions{PublicKey: fuzzSigner.PublicKey()})
		if err != nil || rep.OK {
			t.Fatalf("byte %d changed (^%#x) and the export still verifies: %+v, %v\n%s", int(pos)%(len(bad)-1), flip, rep, err, bad)
		}
	})
}

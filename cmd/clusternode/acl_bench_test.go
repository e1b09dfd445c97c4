package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkACLCheck is the cost the ACL guard adds to a request: find the
// token (SHA-256 of the secret, then a constant-time comparison with every
// configured token), check the rule and scope, and put the identity in
// the request context. "off" is the guard with ACLs off.
//
//	go test -run XXX -bench BenchmarkACLCheck -benchmem ./cmd/clusternode
func BenchmarkACLCheck(b *testing.B) {
	noop := func(w http.ResponseWriter, r *http.Request) {}
	for _, n := range []int{0, 10, 100, 1000} {
		name := fmt.Sprintf("tokens=%d", n)
		if n == 0 {
			name = "off"
		}
		b.Run(name, func(b *testing.B) {
			s := &apiServer{clients: newClients(newFakeBackend(), newFakeClock()), limits: newLimits(defaultLimits())}
			secret := ""
			if n > 0 {
				s.acl = &acls{anonymous: aclIdentity{ID: anonymousID, Anonymous: true}}
				for i := range n {
					tok := aclFileToken{ID: fmt.Sprint("t", i), Secret: fmt.Sprintf("secret-%016d", i), Policy: "write", Names: []string{"billing/"}}
					if err := s.acl.add(tok); err != nil {
						b.Fatal(err)
					}
				}
				secret = fmt.Sprintf("secret-%016d", n/2)
			}
			h := s.guard(nameWrite(pathValue("name")), noop)
			req := httptest.NewRequest("POST", "/v1/names/billing%2Fx/messages", nil)
			req.SetPathValue("name", "billing/x")
			if secret != "" {
				req.Header.Set("Authorization", "Bearer "+secret)
			}
			rec := httptest.NewRecorder()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h(rec, req)
			}
			if rec.Code != http.StatusOK {
				b.Fatalf("refused: %d %s", rec.Code, rec.Body)
			}
		})
	}
}

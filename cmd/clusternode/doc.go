// Command clusternode runs a Roster node (the agent) and talks to one (the
// CLI). README.md documents the flags, the HTTP API and the CLI.
//
// # Role
//
// Parsing and wiring only. The agent turns flags and CLUSTERNODE_*
// variables into an agentConfig (flags.go), opens a node (open_node.go)
// and serves the HTTP API (http*.go) over a small backend interface
// (api.go). nodeBackend (node_backend*.go) adapts the public node and
// global APIs to it; the tests use an in-memory fake. The CLI (cli*.go)
// is a thin client of the same HTTP API.
//
// # HTTP client processes
//
// POST /v1/processes spawns a real process on the node for an HTTP client
// (clients.go). Its loop owns the mailbox: a long-poll hands it a request,
// and the loop drains up to max messages on a helper goroutine (one poll
// at a time) while it keeps serving renewals and DELETE. The TTL pauses
// during a poll and restarts after it or a renewal; when it runs out the
// process exits with an error reason, and its names go with it like any
// process's.
//
// Calls (http_calls.go): POST .../call makes a node.Call from plain Go code
// (no process per request) and answers with the reply. A call that reaches
// an HTTP process shows in its long-poll as {"call":{"ref","from","body"}};
// the mailbox adapter keeps the call's node.ReplyTo under ref (at most
// maxPendingCalls per process, the oldest evicted) until POST
// .../replies/{ref} answers it.
//
// # ACL rules: every route declares one
//
// Every endpoint is registered in apiServer.routes (http.go) together with
// its ACL rule, an aclRule built by one of acl_rules.go's constructors:
//
//	{"/v1/names/{name}", methods{
//		"PUT": {nameWrite(pathValue("name")).owns(bodyPID), s.registerName},
//		"GET": {nameRead(pathValue("name")), s.lookupName}}},
//
// A rule names the resource (publicRule for static files that reveal
// nothing, healthRule, metricsRule, agentRead for node
// and cluster status, nameRead/nameWrite for global and local names,
// groupRead/groupWrite for groups, processWrite for spawning and sending to
// a pid, ownProcess for driving a process, operatorOnly), where the name,
// group or list prefix comes from (pathValue, queryValue), and with .owns
// a pid the caller must own (pathPID, queryPID, bodyPID: processes spawned
// over HTTP belong to the token that spawned them; operators own all). The
// guard (apiServer.guard) runs before the handler: 401 without a valid
// token when anonymous may not, 403 permission_denied outside the token's
// policy or prefixes, 403 not_process_owner for another token's process.
// The handler reads the caller with identityOf(r).
//
// An endpoint whose rule is the zero aclRule is refused to everyone (403
// acl_undeclared), ACLs on or off, and TestEveryRouteDeclaresACL fails: a
// route added without a rule cannot ship open. A new kind of resource (a
// cluster-wide group, a keyring, a call) adds a constructor there, not a
// check in its handler.
//
// Around the mux, acl_browser.go refuses cross-origin browser requests,
// writes without Content-Type: application/json, and foreign Host headers
// on a loopback listener; limits.go bounds request bodies and response
// writes in time, and limits_conn.go the number of connections. Every
// bound is a flag with a default (flags_security.go, README.md).
//
// # Concurrency and shutdown
//
// Every handler runs on its own net/http goroutine. clients.mu guards only
// the pid → client map and is never held while talking to a process
// goroutine or the backend; the backend is safe for concurrent use. On the
// first SIGINT/SIGTERM the agent cancels its stopping context (long-polls
// answer, SSE streams end), drains HTTP for up to 5 s, then leaves the
// cluster (up to 20 s). main restores default signal handling after the
// first signal, so a second one exits at once.
//
// # Metrics
//
// GET /metrics serves a registry private to the agent (metrics_sink.go):
// go-metrics' Prometheus sink, installed as the go-metrics global sink
// where raft, memberlist and the global table report, the Go and process
// collectors, and the roster_* collector (metrics.go), which reads the
// backend at each scrape and keeps no state.
//
// # Usage
//
//	clusternode agent -dev                 # one throwaway node, API on 127.0.0.1:7480
//	clusternode agent -node n1 -data-dir /var/lib/roster -bootstrap-expect 3 -join 10.0.0.2,10.0.0.3 \
//	    -encrypt-file /etc/roster/key -acl-file /etc/roster/acl.json
//	clusternode status
//	clusternode names -prefix svc.
package main

package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultAddress is the agent's default HTTP address (loopback).
const DefaultAddress = "127.0.0.1:7480"

// Environment variables DefaultConfig reads.
const (
	// EnvAddress is the agent address (HOST:PORT or http(s)://HOST:PORT).
	EnvAddress = "ROSTER_HTTP_ADDR"
	// EnvToken is the ACL token.
	EnvToken = "ROSTER_TOKEN"
	// EnvCAFile, EnvClientCert and EnvClientKey configure TLS.
	EnvCAFile     = "ROSTER_CACERT"
	EnvClientCert = "ROSTER_CLIENT_CERT"
	EnvClientKey  = "ROSTER_CLIENT_KEY"
)

// maxAnswerBytes caps an answer's body the client reads (a names page of
// 10,000 entries with meta fits comfortably).
const maxAnswerBytes = 64 << 20

// Config configures a Client.
type Config struct {
	// Address of the agent: HOST:PORT (http) or a URL with scheme http or
	// https. Default DefaultAddress.
	Address string

	// Token is the ACL token, sent as "Authorization: Bearer <token>".
	// Empty: no token (the agent's anonymous policy applies).
	Token string

	// TLS configures HTTPS. Used when Address is an https:// URL, or when
	// any of its fields is set (the scheme then defaults to https).
	TLS TLSConfig

	// HTTPClient, when set, is used as is (TLS is then ignored). Default:
	// a client with its own transport. Long-polls and watches run as
	// long as their ctx allows, so a Timeout on it cuts them short.
	HTTPClient *http.Client
}

// TLSConfig are the files for HTTPS to the agent.
type TLSConfig struct {
	// CAFile is a PEM bundle of CAs to trust (default: the system pool).
	CAFile string
	// CertFile and KeyFile are a client certificate, when the agent
	// requires one.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the agent's certificate.
	ServerName string
	// InsecureSkipVerify disables the certificate check (tests only).
	InsecureSkipVerify bool
}

func (t TLSConfig) set() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify
}

// DefaultConfig returns a Config from the environment: ROSTER_HTTP_ADDR,
// ROSTER_TOKEN, ROSTER_CACERT, ROSTER_CLIENT_CERT, ROSTER_CLIENT_KEY.
func DefaultConfig() *Config {
	c := &Config{Address: os.Getenv(EnvAddress), Token: os.Getenv(EnvToken)}
	c.TLS.CAFile = os.Getenv(EnvCAFile)
	c.TLS.CertFile = os.Getenv(EnvClientCert)
	c.TLS.KeyFile = os.Getenv(EnvClientKey)
	if c.Address == "" {
		c.Address = DefaultAddress
	}
	return c
}

// Client talks to one agent's HTTP API.
type Client struct {
	base  string // scheme://host:port, no trailing slash
	token string
	http  *http.Client
}

// NewClient checks cfg and builds a Client. It does not contact the agent.
func NewClient(cfg *Config) (*Client, error) {
	c := *cfg
	if c.Address == "" {
		c.Address = DefaultAddress
	}
	addr := c.Address
	if !strings.Contains(addr, "://") {
		scheme := "http"
		if c.TLS.set() {
			scheme = "https"
		}
		addr = scheme + "://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("api: address %q: want HOST:PORT or http(s)://HOST:PORT", c.Address)
	}
	if strings.ContainsAny(c.Token, "\r\n") {
		return nil, errors.New("api: token holds a line break")
	}
	hc := c.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if u.Scheme == "https" {
			tc, err := c.TLS.build()
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = tc
		}
		hc = &http.Client{Transport: tr}
	}
	return &Client{base: u.Scheme + "://" + u.Host, token: c.Token, http: hc}, nil
}

func (t TLSConfig) build() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("api: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("api: CA file %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("api: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Address returns the agent's base URL.
func (c *Client) Address() string { return c.base }

// request is one API call.
type request struct {
	method string
	path   string     // already escaped
	query  url.Values // may be nil
	body   any        // nil: no body; json.RawMessage and []byte are sent as they are
}

// newRequest builds the HTTP request with the token and, for a body, the
// JSON content type (the agent refuses writes without it).
func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	var rd io.Reader
	if r.body != nil {
		b, err := encodeBody(r.body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

func encodeBody(v any) ([]byte, error) {
	switch b := v.(type) {
	case json.RawMessage:
		if !json.Valid(b) {
			return nil, errors.New("api: body is not valid JSON")
		}
		return b, nil
	case []byte:
		if !json.Valid(b) {
			return nil, errors.New("api: body is not valid JSON")
		}
		return b, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("api: encoding body: %w", err)
	}
	return b, nil
}

// do sends r and decodes a JSON answer into out (when not nil). An answer
// of 400 or more is an *Error.
func (c *Client) do(ctx context.Context, r request, out any) error {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("api: %s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return readError(resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("api: %s %s: reading answer: %w", r.method, r.path, err)
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("api: %s %s: bad answer: %w", r.method, r.path, err)
	}
	return nil
}

// readError decodes an error answer; a body that is not the API's JSON
// error (a proxy's page, say) becomes the message with code "http".
func readError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &Error{StatusCode: resp.StatusCode}
	if json.Unmarshal(raw, e) != nil || e.Code == "" {
		e.Code, e.Message = "http", strings.TrimSpace(string(raw))
		if e.Message == "" {
			e.Message = resp.Status
		}
	}
	return e
}

// durationString renders d for the API ("1.5s"); 0 stays "0s".
func durationString(d time.Duration) string { return d.String() }

package main

// Verification of AWS Signature Version 4 (Authorization header form), as
// the S3 documentation describes it, so the tests catch a client that signs
// wrongly even though gofakes3 ignores signatures.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

type sigV4Verifier struct {
	next                 http.Handler
	accessKey, secretKey string
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// awsEncode percent-encodes everything but A-Z a-z 0-9 - _ . ~ (and '/'
// when keepSlash), upper-case hex.
func awsEncode(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

func (v *sigV4Verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if code, msg := v.check(r); code != "" {
		s3Error(w, http.StatusForbidden, code, msg)
		return
	}
	v.next.ServeHTTP(w, r)
}

func (v *sigV4Verifier) check(r *http.Request) (string, string) {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return "AccessDenied", "request is not signed with AWS4-HMAC-SHA256"
	}
	fields := map[string]string{}
	for _, part := range strings.Split(auth[len(algo):], ",") {
		kv := strings.SplitN(strings.TrimSpace(part), "=", 2)
		if len(kv) == 2 {
			fields[kv[0]] = kv[1]
		}
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "AuthorizationHeaderMalformed", "bad Credential " + fields["Credential"]
	}
	if scope[0] != v.accessKey {
		return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
	}
	date, region, service := scope[1], scope[2], scope[3]
	amzDate := r.Header.Get("X-Amz-Date")
	if len(amzDate) < 8 || amzDate[:8] != date {
		return "AuthorizationHeaderMalformed", "x-amz-date does not match the credential scope"
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		return "InvalidRequest", "missing x-amz-content-sha256"
	}

	signed := strings.Split(fields["SignedHeaders"], ";")
	var canonHeaders strings.Builder
	for _, h := range signed {
		var val string
		if h == "host" {
			val = r.Host
		} else {
			val = strings.Join(r.Header.Values(h), ",")
		}
		canonHeaders.WriteString(h + ":" + strings.Join(strings.Fields(val), " ") + "\n")
	}

	var query []string
	if r.URL.RawQuery != "" {
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			k, val, _ := strings.Cut(kv, "=")
			k, _ = url.QueryUnescape(k)
			val, _ = url.QueryUnescape(val)
			query = append(query, awsEncode(k, false)+"="+awsEncode(val, false))
		}
	}
	sort.Strings(query)

	path, err := url.PathUnescape(r.URL.EscapedPath())
	if err != nil {
		return "InvalidURI", "bad path"
	}
	canonical := strings.Join([]string{r.Method, awsEncode(path, true), strings.Join(query, "&"),
		canonHeaders.String(), fields["SignedHeaders"], payloadHash}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+v.secretKey), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	if hex.EncodeToString(hmacSHA256(key, toSign)) != fields["Signature"] {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
	}
	return "", ""
}

package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// A browser logs in once with a token (there is no OpenID Connect provider to send it to) and
// keeps a session cookie: the token's name and an expiry, signed with a key that lives as long
// as the process (a restart logs everyone out, which costs a token typed again and keeps no
// key on disk). The cookie names the token, never holds it; its role is looked up on every
// request, so a token taken out of its role stops working at once.

// SessionCookie is the session cookie's name.
const SessionCookie = "strata_session"

// SessionLifetime is how long a session lasts after the login.
const SessionLifetime = 12 * time.Hour

// sessions signs and reads session cookies.
type sessions struct {
	key []byte
	now func() time.Time
}

func newSessions() sessions {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("no randomness for the session key: " + err.Error()) // crypto/rand never fails on Linux
	}
	return sessions{key: key, now: time.Now}
}

func (s sessions) sign(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// cookie is a session for the token named name.
func (s sessions) cookie(name string, secure bool) *http.Cookie {
	expires := s.now().Add(SessionLifetime)
	payload := base64.RawURLEncoding.EncodeToString([]byte(name)) + "." + strconv.FormatInt(expires.Unix(), 10)
	return &http.Cookie{Name: SessionCookie, Value: payload + "." + s.sign(payload), Path: "/", Expires: expires,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// read is the token name of a request's session cookie, when its signature holds and it has
// not expired.
func (s sessions) read(r *http.Request) (string, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", errNoToken
	}
	if len(c.Value) > 4096 {
		return "", errors.New("the session cookie is too long")
	}
	payload, sig, ok := cutLast(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.sign(payload))) {
		return "", errors.New("the session cookie's signature does not hold (forged, or from before a restart)")
	}
	encName, exp, ok := strings.Cut(payload, ".")
	unix, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil {
		return "", errors.New("the session cookie is malformed")
	}
	if s.now().After(time.Unix(unix, 0)) {
		return "", errors.New("the session expired")
	}
	name, err := base64.RawURLEncoding.DecodeString(encName)
	if err != nil {
		return "", errors.New("the session cookie is malformed")
	}
	return string(name), nil
}

// Expired is the cookie that ends a session.
func Expired(secure bool) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}

// SafeNext is where a login sends the browser back to: a path of this server, never another
// site (an open redirect: "//evil.example", "https://…", "/\\evil.example"); "/" otherwise.
func SafeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		u.Scheme != "" || u.Host != "" || strings.ContainsAny(next, "\r\n\t") {
		return "/"
	}
	return next
}

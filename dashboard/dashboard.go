// Package dashboard serves flatsweep's web dashboard from the coordinator:
// the sweeps with their progress and states; per sweep a live table of its
// trials (filtered by state, sorted by any column), its results grouped by
// any axes with the results engine every command uses, the analysis and the
// figures of the report as results arrive, and why trials failed; per
// worker its slots, current trials and last heartbeat; per trial its spec,
// curves, measures and attempts.
//
// Pages are rendered on the server with html/template from the
// coordinator's own SweepService (the calls remote clients make, in
// process). One small script, embedded (the dashboard works offline), polls
// the page it is on and swaps in the parts marked data-live, so a running
// sweep's progress advances on screen without a reload; without JavaScript
// the pages still work and a reload shows the news.
//
// Authentication follows the coordinator's rules (coordinator.Security):
// when the coordinator authenticates its callers, the dashboard asks for a
// token of the client or the admin role (sent as "Authorization: Bearer",
// or entered once at /login and kept in an HTTP-only cookie) or a client
// certificate that grants one; a worker's credentials do not open it.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/coordinator"
	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configures a dashboard.
type Options struct {
	// Security is the coordinator's: who may open the dashboard.
	Security coordinator.Security
	// Refresh is how often a page polls for changes (default 2s).
	Refresh time.Duration
	// Logger receives the dashboard's logs (default slog.Default()).
	Logger *slog.Logger
}

// Server is the dashboard's HTTP handler.
type Server struct {
	c      *coordinator.Coordinator
	sweeps pb.SweepServiceServer
	opts   Options
	tmpl   *template.Template
	mux    *http.ServeMux
	cache  sweepCache
}

// cookieName is the cookie that keeps the token entered at /login.
const cookieName = "flatsweep_token"

// New returns the dashboard of a coordinator.
func New(c *coordinator.Coordinator, opts Options) (*Server, error) {
	if opts.Refresh <= 0 {
		opts.Refresh = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	tmpl, err := template.New("").Funcs(funcs()).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard templates: %w", err)
	}
	s := &Server{c: c, sweeps: c.SweepService(), opts: opts, tmpl: tmpl, mux: http.NewServeMux(),
		cache: sweepCache{entries: map[string]*cacheEntry{}}}
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.logout)
	s.mux.Handle("GET /{$}", s.auth(s.sweepsPage))
	s.mux.Handle("GET /workers", s.auth(s.workersPage))
	s.mux.Handle("GET /sweeps/{sweep}", s.auth(s.sweepPage))
	s.mux.Handle("GET /sweeps/{sweep}/figures/{figure}", s.auth(s.figure))
	s.mux.Handle("GET /sweeps/{sweep}/trials/{trial}", s.auth(s.trialPage))
	s.mux.Handle("GET /sweeps/{sweep}/trials/{trial}/curve.svg", s.auth(s.trialCurve))
	s.mux.Handle("GET /sweeps/{sweep}/trials/{trial}/sharpness.svg", s.auth(s.trialSharpness))
	s.mux.Handle("GET /sweeps/{sweep}/trials/{trial}/landscape/{figure}", s.auth(s.trialLandscape))
	return s, nil
}

// ServeHTTP serves the dashboard.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")
	s.mux.ServeHTTP(w, r)
}

// allowed reports whether a request's credentials may read the dashboard:
// always when the coordinator authenticates nobody (loopback only), else a
// token or certificate of the client or admin role.
func (s *Server) allowed(r *http.Request) (ok, worker bool) {
	sec := s.opts.Security
	if !sec.Authenticates() {
		return true, false
	}
	var roles coordinator.Role
	if tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
		roles |= sec.TokenRoles(tok)
	}
	if c, err := r.Cookie(cookieName); err == nil {
		roles |= sec.TokenRoles(c.Value)
	}
	if r.TLS != nil {
		roles |= sec.CertRoles(r.TLS.VerifiedChains)
	}
	return roles&(coordinator.RoleClient|coordinator.RoleAdmin) != 0, roles&coordinator.RoleWorker != 0
}

// auth wraps a page: without the credentials to read it, a browser is sent
// to /login and any other caller gets 401.
func (s *Server) auth(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, worker := s.allowed(r)
		if !ok {
			if worker {
				http.Error(w, "the worker role cannot read the dashboard: use the client or the admin token", http.StatusForbidden)
				return
			}
			if strings.Contains(r.Header.Get("Accept"), "text/html") {
				http.Redirect(w, r, "/login?next="+template.URLQueryEscaper(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="flatsweep"`)
			http.Error(w, "a token of the client or the admin role is required", http.StatusUnauthorized)
			return
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// fail writes an error page with the status that fits the error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch status.Code(err) {
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.InvalidArgument:
		code = http.StatusBadRequest
	}
	if errors.Is(err, store.ErrNotFound) {
		code = http.StatusNotFound
	}
	var he httpError
	if errors.As(err, &he) {
		code = he.code
	}
	if code == http.StatusInternalServerError {
		s.opts.Logger.Error("dashboard page failed", "path", r.URL.Path, "err", err)
	}
	w.WriteHeader(code)
	_ = s.tmpl.ExecuteTemplate(w, "error.html", map[string]any{
		"Title": http.StatusText(code), "Message": status.Convert(err).Message(), "Refresh": 0})
}

// httpError is an error with its HTTP status.
type httpError struct {
	code int
	msg  string
}

func (e httpError) Error() string { return e.msg }

// render executes a page template.
func (s *Server) render(w http.ResponseWriter, name string, data map[string]any) error {
	data["Refresh"] = s.opts.Refresh.Milliseconds()
	var b strings.Builder
	if err := s.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := io.WriteString(w, b.String())
	return err
}

// loginPage asks for a token.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	_ = s.render(w, "login.html", map[string]any{"Title": "Sign in", "Next": safeNext(r.URL.Query().Get("next")), "Failed": r.URL.Query().Get("failed") != ""})
}

// login checks the token entered and keeps it in a cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	roles := s.opts.Security.TokenRoles(tok)
	if roles&(coordinator.RoleClient|coordinator.RoleAdmin) == 0 {
		http.Redirect(w, r, "/login?failed=1&next="+template.URLQueryEscaper(next), http.StatusSeeOther)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout forgets the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a redirect target on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}

// callTimeout bounds the coordinator calls of one page.
const callTimeout = 30 * time.Second

// ctx returns the context of a page's calls.
func ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), callTimeout)
}

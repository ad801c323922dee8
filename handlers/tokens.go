package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/ratelimit"
)

// tokenBodyLimit bounds token request bodies: the largest field is an FCM
// token of at most 4096 characters.
const tokenBodyLimit = 8 << 10

// tokenHandlers serves /v1/tokens.
type tokenHandlers struct {
	logger *slog.Logger
	tokens *ntf.Service
	// subs, when set, deletes a token's subscriptions with it.
	subs  *ntf.Subscriptions
	limit limits
	// register, verify and update are the per-client-IP rules on
	// registrations, verification attempts and the other writes
	// (replace, checks); perToken is the rule on each token's writes.
	register, verify, update, perToken ratelimit.Rule
}

// limitWrites applies the per-client-IP rule, then the per-token one, to
// a token's write of kind. Each write of a replace queues a push to the
// device the caller names, so neither a client nor a token holder may
// send them at will.
func (h tokenHandlers) limitWrites(kind string, ipRule ratelimit.Rule, next http.Handler) http.Handler {
	return h.limit.wrap(kind, ipRule, h.limit.perToken(kind+"_per_token", h.perToken, next))
}

// create handles POST /v1/tokens.
func (h tokenHandlers) create() http.Handler {
	return h.limit.wrap("token_register", h.register, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeStrict[api.TokenCreateRequest](w, r, tokenBodyLimit)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		reg, err := toRegistration(req)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		t, secret, err := h.tokens.Register(r.Context(), reg)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		w.Header().Set("Location", "/v1/tokens/"+string(t.ID))
		w.Header().Set("Cache-Control", "no-store")
		encode(w, r, h.logger, http.StatusCreated, api.TokenCreated{
			ID: string(t.ID), Secret: string(secret), ServerDHKey: t.ServerPublicKey.String(), Status: string(t.Status),
		})
	}))
}

// verifyCode handles POST /v1/tokens/{id}/verify.
func (h tokenHandlers) verifyCode() http.Handler {
	return h.limitWrites("token_verify", h.verify, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeStrict[api.TokenVerifyRequest](w, r, tokenBodyLimit)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		if req.Code == "" {
			writeError(w, r, h.logger, missingParam("code is required"))
			return
		}
		code, err := ntf.ParseCode(req.Code)
		if err != nil {
			writeError(w, r, h.logger, invalidParam("code: "+err.Error()))
			return
		}
		h.answer(w, r)(h.tokens.Verify(r.Context(), credentials(r), code))
	}))
}

// get handles GET /v1/tokens/{id}.
func (h tokenHandlers) get() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.answer(w, r)(h.tokens.Authenticate(r.Context(), credentials(r)))
	})
}

// replace handles PUT /v1/tokens/{id}.
func (h tokenHandlers) replace() http.Handler {
	return h.limitWrites("token_replace", h.update, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeStrict[api.TokenReplaceRequest](w, r, tokenBodyLimit)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		if req.DeviceToken == "" {
			writeError(w, r, h.logger, missingParam("device_token is required"))
			return
		}
		h.answer(w, r)(h.tokens.Replace(r.Context(), credentials(r), req.DeviceToken))
	}))
}

// checks handles PUT /v1/tokens/{id}/checks.
func (h tokenHandlers) checks() http.Handler {
	return h.limitWrites("token_checks", h.update, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeStrict[api.TokenChecksRequest](w, r, tokenBodyLimit)
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		if req.IntervalMinutes == nil {
			writeError(w, r, h.logger, missingParam("interval_minutes is required"))
			return
		}
		interval, err := ntf.ParseCheckInterval(*req.IntervalMinutes)
		if err != nil {
			writeError(w, r, h.logger, invalidParam("interval_minutes: "+err.Error()))
			return
		}
		h.answer(w, r)(h.tokens.SetChecks(r.Context(), credentials(r), interval))
	}))
}

// delete handles DELETE /v1/tokens/{id}.
func (h tokenHandlers) delete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		del := h.tokens.Delete
		if h.subs != nil {
			del = h.subs.DeleteToken
		}
		if err := del(r.Context(), credentials(r)); err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// answer returns a function writing a service result: the token, or the
// error.
func (h tokenHandlers) answer(w http.ResponseWriter, r *http.Request) func(ntf.Token, error) {
	return func(t ntf.Token, err error) {
		if err != nil {
			writeError(w, r, h.logger, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, r, h.logger, http.StatusOK, toAPIToken(t))
	}
}

// credentials reads the token id from the path and the bearer secret from
// the Authorization header; absent values are empty, which the service
// refuses like wrong ones.
func credentials(r *http.Request) ntf.Credentials {
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		secret = ""
	}
	return ntf.Credentials{ID: r.PathValue("id"), Secret: strings.TrimSpace(secret)}
}

// toRegistration parses a registration request, reporting every missing
// or malformed field at once.
func toRegistration(req api.TokenCreateRequest) (ntf.Registration, error) {
	var reg ntf.Registration
	var missing, bad []string
	need := func(name, v string) bool {
		if v == "" {
			missing = append(missing, name)
		}
		return v != ""
	}
	fail := func(name string, err error) {
		if err != nil {
			bad = append(bad, name+": "+err.Error())
		}
	}
	var err error
	if need("platform", req.Platform) {
		reg.Platform, err = parsePlatform(req.Platform)
		fail("platform", err)
	}
	if need("app", req.App) {
		reg.App, err = ntf.ParseAppID(req.App)
		fail("app", err)
	}
	reg.Environment, err = parseEnvironment(reg.Platform, req.Environment)
	fail("environment", err)
	if need("device_token", req.DeviceToken) && reg.Platform.Valid() {
		reg.DeviceToken, err = push.ParseDeviceToken(reg.Platform, req.DeviceToken)
		fail("device_token", err)
	}
	if need("dh_key", req.DHKey) {
		reg.DHKey, err = ntf.ParseDHKey(req.DHKey)
		fail("dh_key", err)
	}
	switch {
	case len(bad) > 0:
		return reg, invalidParam(strings.Join(bad, "; "))
	case len(missing) > 0:
		return reg, missingParam("required: " + strings.Join(missing, ", "))
	}
	return reg, nil
}

// parsePlatform accepts exactly "apns" or "fcm".
func parsePlatform(s string) (push.Platform, error) {
	switch s {
	case "apns":
		return push.APNs, nil
	case "fcm":
		return push.FCM, nil
	}
	return 0, errors.New(`must be "apns" or "fcm"`)
}

// parseEnvironment accepts "production" (the default) or "development",
// the latter for APNs only.
func parseEnvironment(p push.Platform, s string) (push.Environment, error) {
	switch {
	case s == "" || s == "production":
		return push.Production, nil
	case s == "development" && p != push.FCM:
		return push.Development, nil
	case s == "development":
		return 0, errors.New("applies to apns only")
	}
	return 0, errors.New(`must be "production" or "development"`)
}

// toAPIToken is a token's public state.
func toAPIToken(t ntf.Token) api.Token {
	return api.Token{
		ID: string(t.ID), Platform: t.Platform.String(), App: string(t.App), Environment: t.Environment.String(),
		Status: string(t.Status), InvalidReason: string(t.InvalidReason),
		CheckIntervalMinutes: int(t.CheckInterval / time.Minute),
		CreatedAt:            formatTime(t.CreatedAt), UpdatedAt: formatTime(t.UpdatedAt),
	}
}

// formatTime writes RFC 3339 in UTC to the millisecond, the precision
// tokens are stored with, so a time reads the same before and after a
// round trip through the store.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// decodeStrict is decode for APIs of our own: unknown fields and trailing
// data are refused with a 400 naming the problem.
func decodeStrict[T any](w http.ResponseWriter, r *http.Request, limit int64) (T, error) {
	var v T
	body, err := readBody(w, r, limit)
	if err != nil {
		return v, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return v, invalidParam(fmt.Sprintf("%s: wrong type", typeErr.Field))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return v, invalidParam(strings.TrimPrefix(err.Error(), "json: "))
		}
		return v, invalidParam("body is not valid JSON")
	}
	if dec.More() {
		return v, invalidParam("trailing data after the JSON object")
	}
	return v, nil
}

package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// encode writes v as a JSON response with status. An encoding failure is
// logged; the status line is already gone by then.
func encode[T any](w http.ResponseWriter, r *http.Request, logger *slog.Logger, status int, v T) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		logger.DebugContext(r.Context(), "response not written", "err", err)
	}
}

// decode reads a JSON body of at most limit bytes into a T. Unknown fields
// are ignored, as Matrix clients expect; syntax and type errors become a
// 400, an oversized body a 413.
func decode[T any](w http.ResponseWriter, r *http.Request, limit int64) (T, error) {
	var v T
	body, err := readBody(w, r, limit)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(body, &v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return v, invalidParam(fmt.Sprintf("%s: wrong type", typeErr.Field))
		}
		return v, invalidParam("body is not valid JSON")
	}
	return v, nil
}

// readBody reads the whole body, refusing more than limit bytes. A body
// that announces a larger size is refused before anything is read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, errBodyTooLarge
		}
		return nil, fmt.Errorf("read body: %w", errBodyUnreadable)
	}
	return body, nil
}

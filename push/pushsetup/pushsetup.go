// Package pushsetup builds the push senders and dispatcher from a
// Config, for the gateway's start-up:
//
//	router := push.NewRouter(logger)
//	d, err := pushsetup.FromFile(ctx, logger, *pushConfigPath, push.DispatcherConfig{
//		OnResult: router.Deliver,
//	})
//	if err != nil {
//		return err // names the app and the bad or missing credential
//	}
//	defer d.Close(shutdownCtx)
//
// With no configuration file (path "") or no apps, notifications go to
// push.LogSender and a warning says so: `tryst serve` works with zero
// set-up but delivers nothing.
package pushsetup

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/apns"
	"github.com/trystgw/tryst/push/fcm"
)

// FromFile loads the configuration at path (none if path is "") and
// calls New.
func FromFile(ctx context.Context, logger *slog.Logger, path string, dc push.DispatcherConfig) (*push.Dispatcher, error) {
	p, err := Prepare(ctx, path)
	if err != nil {
		return nil, err
	}
	return p.Dispatcher(logger, dc)
}

// New builds one sender per configured app and a dispatcher over them.
// The file's dispatcher settings fill the zero fields of dc. Every app's
// credentials are loaded and checked now; all problems are reported
// together. cfg may be nil.
func New(ctx context.Context, logger *slog.Logger, cfg *Config, dc push.DispatcherConfig) (*push.Dispatcher, error) {
	p, err := prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return p.Dispatcher(logger, dc)
}

// Prepared is a push configuration whose every app's credentials were
// loaded and checked, and whose senders are built but have sent nothing:
// what start-up validates before it creates anything.
type Prepared struct {
	cfg     *Config
	senders map[push.Route]push.Sender
}

// Prepare loads the configuration at path (none if path is "") and
// builds its senders. Errors name the app and the bad or missing
// credential. Call Dispatcher to use them, or Close.
func Prepare(ctx context.Context, path string) (*Prepared, error) {
	var cfg *Config
	if path != "" {
		var err error
		if cfg, err = LoadConfig(path); err != nil {
			return nil, err
		}
	}
	return prepare(ctx, cfg)
}

func prepare(ctx context.Context, cfg *Config) (*Prepared, error) {
	senders, err := Senders(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Prepared{cfg: cfg, senders: senders}, nil
}

// Dispatcher returns a dispatcher over the prepared senders, which it
// then owns. The file's dispatcher settings fill the zero fields of dc.
// With no apps, notifications go to push.LogSender and a warning says so.
func (p *Prepared) Dispatcher(logger *slog.Logger, dc push.DispatcherConfig) (*push.Dispatcher, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if p.cfg != nil {
		p.cfg.Dispatcher.ApplyTo(&dc)
	}
	senders := p.senders
	p.senders = nil
	if len(senders) == 0 {
		logger.Warn("push: no push credentials configured: notifications are only logged, not delivered")
		senders = push.LogSenders(logger)
	} else {
		for r := range senders {
			logger.Info("push: sender configured", "route", r.String())
		}
	}
	d, err := push.NewDispatcher(logger, senders, dc)
	if err != nil {
		closeAll(senders)
		return nil, err
	}
	return d, nil
}

// Close releases the senders if Dispatcher was not called.
func (p *Prepared) Close() {
	closeAll(p.senders)
	p.senders = nil
}

// Senders builds one sender per app in cfg (none for a nil cfg).
func Senders(ctx context.Context, cfg *Config) (map[push.Route]push.Sender, error) {
	out := map[push.Route]push.Sender{}
	if cfg == nil {
		return out, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range cfg.Apps {
		s, err := build(ctx, cfg, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("push config: app %q (%s): %w", a.ID, a.Platform, err))
			continue
		}
		out[push.Route{Platform: a.Platform, App: a.ID}] = s
	}
	if len(errs) > 0 {
		closeAll(out)
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func build(ctx context.Context, cfg *Config, a AppConfig) (push.Sender, error) {
	roots, err := rootCAs(cfg.Path(a.CAFile))
	if err != nil {
		return nil, err
	}
	switch a.Platform {
	case push.APNs:
		k := a.APNs
		c := apns.Config{App: a.ID, Topic: a.Topic, ProductionURL: k.ProductionURL, DevelopmentURL: k.DevelopmentURL, RootCAs: roots}
		if k.KeyFile != "" {
			key, err := apns.LoadKey(cfg.Path(k.KeyFile))
			if err != nil {
				return nil, err
			}
			c.Key, c.KeyID, c.TeamID = key, k.KeyID, k.TeamID
		} else {
			pw, err := password(cfg, k)
			if err != nil {
				return nil, err
			}
			cert, err := apns.LoadCertificate(cfg.Path(k.CertFile), pw)
			if err != nil {
				return nil, err
			}
			c.Certificate = &cert
		}
		return apns.New(c)
	case push.FCM:
		sa, err := fcm.LoadServiceAccount(cfg.Path(a.FCM.ServiceAccountFile))
		if err != nil {
			return nil, err
		}
		return fcm.New(ctx, fcm.Config{App: a.ID, ServiceAccountJSON: sa, ProjectID: a.FCM.ProjectID, Endpoint: a.FCM.Endpoint, RootCAs: roots})
	}
	return nil, fmt.Errorf("unknown platform %d", a.Platform)
}

func password(cfg *Config, k *APNsCredentials) (string, error) {
	switch {
	case k.CertPasswordEnv != "":
		v, ok := os.LookupEnv(k.CertPasswordEnv)
		if !ok {
			return "", fmt.Errorf("certificate password variable %s is not set", k.CertPasswordEnv)
		}
		return v, nil
	case k.CertPasswordFile != "":
		b, err := os.ReadFile(cfg.Path(k.CertPasswordFile))
		if err != nil {
			return "", fmt.Errorf("certificate password: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}

func rootCAs(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("ca_file %s: no PEM certificates", path)
	}
	return pool, nil
}

func closeAll(senders map[push.Route]push.Sender) {
	for _, s := range senders {
		if c, ok := s.(io.Closer); ok {
			c.Close()
		}
	}
}

// Command cpimgw runs the SIP/SIMPLE ⇄ XMPP gateway.
//
//	cpimgw -config /etc/cpimgw/cpimgw.yaml   run the gateway
//	cpimgw -check -config FILE               validate the configuration and exit
//	cpimgw -version                          print the version and exit
//
// It reads a strict YAML configuration (see README.md), logs with log/slog
// in text or JSON, and on SIGTERM or SIGINT shuts down in order within
// shutdown_timeout: the XMPP side stops taking messages, drains what it
// queued (delivering through the still-running SIP side) and closes its
// stream; then the SIP side stops.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"cpimgw/gateway"
	"cpimgw/mapping"
	"cpimgw/presence"
	"cpimgw/sipside"
	"cpimgw/store"
	"cpimgw/xmppside"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs the command line and returns the exit status.
func cli(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cpimgw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML)")
	check := fs.Bool("check", false, "validate the configuration, report every problem and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "cpimgw", version)
		return 0
	}
	if *configPath == "" {
		fmt.Fprintln(stderr, "cpimgw: -config FILE is required")
		fs.Usage()
		return 2
	}
	cfg, err := Load(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "cpimgw: %s: invalid configuration:\n%v\n", *configPath, err)
		return 1
	}
	if *check {
		fmt.Fprintf(stdout, "%s: configuration OK\n", *configPath)
		return 0
	}
	log := newLogger(cfg.Log, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg, log, nil); err != nil {
		log.Error("gateway failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.Level) // validated
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// started, when not nil, is called with both sides once they are built
// (tests use it to wait for readiness).
type started func(*xmppside.Component, *sipside.Endpoint)

// run builds and runs the gateway until ctx ends, then shuts down in order.
func run(ctx context.Context, cfg *Config, log *slog.Logger, onStart started) error {
	xmppside.Version = version
	sipside.SetGlobals(log)

	foreign := mapping.ForeignEscape
	if cfg.Routes.ForeignSIP == "reject" {
		foreign = mapping.ForeignReject
	}
	mapper, err := mapping.NewMapper(mapping.Domains{
		Component: cfg.XMPP.Component,
		XMPP:      cfg.Routes.XMPPDomains,
		SIP:       cfg.Routes.SIPDomains,
		Foreign:   foreign,
		IMSchemes: cfg.Routes.IMSchemes,
	})
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	router := gateway.New(mapper, foreign == mapping.ForeignEscape, log)

	xcfg := xmppside.Config{
		Domain:           cfg.XMPP.Component,
		Server:           cfg.XMPP.Server,
		Secret:           string(cfg.XMPP.Secret),
		HandshakeTimeout: cfg.XMPP.HandshakeTimeout,
		BackoffMax:       cfg.XMPP.ReconnectMax,
		PingInterval:     cfg.XMPP.PingInterval,
		PingTimeout:      cfg.XMPP.PingTimeout,
		PingTo:           cfg.XMPP.PingTo,
		Workers:          cfg.XMPP.Workers,
		QueueDepth:       cfg.XMPP.QueueDepth,
		MaxPending:       cfg.XMPP.MaxPending,
	}
	if t := cfg.XMPP.TLS; t != nil {
		tc := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return err
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("xmpp.tls.ca_file: no certificate in %s", t.CAFile)
			}
		}
		xcfg.TLS = tc
	}
	comp, err := xmppside.New(xcfg, mapper, router.FromXMPP(), log)
	if err != nil {
		return err
	}

	scfg := sipside.Config{
		Listen:             cfg.SIP.Listen,
		OutboundProxy:      cfg.SIP.OutboundProxy,
		Hostname:           cfg.SIP.Hostname,
		Username:           cfg.SIP.Username,
		Password:           string(cfg.SIP.Password),
		TrustedSources:     cfg.SIP.trusted,
		AcceptStatus:       cfg.SIP.AcceptStatus,
		MaxUDPSize:         cfg.SIP.MaxUDPSize,
		TCPFallback:        cfg.SIP.TCPFallback,
		MaxMessageSize:     cfg.SIP.MaxMessageSize,
		TransactionTimeout: cfg.SIP.TransactionTimeout,
		WrapCPIM:           cfg.SIP.WrapCPIM,
		UserAgent:          cfg.SIP.UserAgent,
	}
	if scfg.UserAgent == "" {
		scfg.UserAgent = "cpimgw/" + version
	}
	if t := cfg.SIP.TLS; t != nil && t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return fmt.Errorf("sip.tls: %w", err)
		}
		scfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	// Presence (RFC 8048): the core, its state store, and both sides'
	// presence handlers.
	var core *presence.Core
	var st store.Store
	if cfg.Presence.On() {
		b, err := store.OpenBolt(cfg.Presence.StateDir, store.BoltOptions{})
		if err != nil {
			return fmt.Errorf("presence.state_dir: %w", err)
		}
		st = b
		defer st.Close()
		mode := presence.Notifier
		if cfg.Presence.Mode == "publish" {
			mode = presence.Publish
		}
		core, err = presence.New(presence.Config{
			Store: st, Mode: mode,
			NotifyInterval: cfg.Presence.NotifyInterval, ProbeTimeout: cfg.Presence.ProbeTimeout,
			MaxPerWatcher: cfg.Presence.MaxPerWatcher, MaxTotal: cfg.Presence.MaxSubscriptions,
			Log: log,
		})
		if err != nil {
			return fmt.Errorf("presence: %w", err)
		}
		scfg.Presence = core.SIPEvents()
		scfg.Store = st
		scfg.SubscribeExpires = cfg.Presence.SubscribeExpires
		scfg.MinExpires = cfg.Presence.MinExpires
		scfg.MaxExpires = cfg.Presence.MaxExpires
		scfg.PublishExpires = cfg.Presence.PublishExpires
		scfg.MaxSubscriptionsPerWatcher = cfg.Presence.MaxPerWatcher
		scfg.MaxSubscriptions = cfg.Presence.MaxSubscriptions
		scfg.SubscribeRate = cfg.Presence.SubscribeRate
		comp.SetPresenceHandler(core.XMPPEvents())
	}
	ep, err := sipside.New(scfg, mapper, router.FromSIP(), log)
	if err != nil {
		return err
	}
	router.Connect(ep, comp)
	coreDone := make(chan error, 1)
	coreCtx, stopCore := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCore()
	if core != nil {
		core.Connect(ep, comp)
		// The core restores its state before the sides deliver events:
		// its handlers wait for the restore.
		go func() { coreDone <- core.Run(coreCtx) }()
	} else {
		coreDone <- nil
	}

	xmppCtx, stopXMPP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopXMPP()
	sipCtx, stopSIP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSIP()
	xmppDone, sipDone := make(chan error, 1), make(chan error, 1)
	go func() { sipDone <- ep.Run(sipCtx) }()
	go func() { xmppDone <- comp.Run(xmppCtx) }()
	if onStart != nil {
		onStart(comp, ep)
	}
	log.Info("gateway started", "version", version, "component", cfg.XMPP.Component, "xmpp_server", cfg.XMPP.Server, "sip_listen", cfg.SIP.Listen)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-sipDone:
		// The SIP side failed to start (a listener could not bind, say).
		runErr = fmt.Errorf("sip side: %w", err)
		sipDone <- nil
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	deadline := time.After(cfg.ShutdownTimeout)
	stopXMPP()
	select {
	case <-xmppDone:
	case <-deadline:
		return errors.Join(runErr, errors.New("shutdown timed out on the XMPP side"))
	}
	stopSIP()
	select {
	case err := <-sipDone:
		if err != nil && runErr == nil {
			runErr = fmt.Errorf("sip side: %w", err)
		}
	case <-deadline:
		return errors.Join(runErr, errors.New("shutdown timed out on the SIP side"))
	}
	stopCore()
	select {
	case err := <-coreDone:
		if err != nil && runErr == nil {
			runErr = fmt.Errorf("presence: %w", err)
		}
	case <-deadline:
		return errors.Join(runErr, errors.New("shutdown timed out in the presence core"))
	}
	log.Info("gateway stopped")
	return runErr
}

// Package push is tryst's push delivery domain: notifications and their
// owners, the Sender interface, classified errors, the Dispatcher that
// queues, sends, retries and reports, and the Router that brings each
// result back to the service that sent the push.
//
// It imports neither HTTP, Prometheus nor any file format. The provider
// adapters live in push/apns (Apple, over github.com/sideshow/apns2) and
// push/fcm (Google, over firebase.google.com/go/v4/messaging);
// push/pushsetup reads the configuration file and builds them and the
// dispatcher from it; push/pushtest has faithful
// fakes of both providers, a recording Sender and a manual clock.
//
// # Notifications and tokens
//
// A Notification targets one DeviceToken (validated by ParseDeviceToken:
// APNs tokens are 64–200 even hex digits, FCM tokens opaque strings of
// [A-Za-z0-9_:-] up to 4096 characters) of one App, in an Environment
// (APNs production or sandbox). It is an Alert or a Background push, with
// a Priority, an optional CollapseID and Expiration, alert content and a
// string Data map.
//
// # Errors
//
// Every failure is a *Error with a Class telling the caller what to do:
//
//	ClassToken      the token is dead (Reason bad_token, wrong_topic, expired,
//	                unregistered; APNs 410 Timestamp): delete it
//	ClassPayload    the notification can never be delivered as built
//	ClassCredential the app's credentials/config were rejected; the token is fine
//	ClassRetryable  rate_limited (with RetryAfter), unavailable, network
//	ClassExpired    the notification's Expiration passed
//	ClassShutdown   the dispatcher closed before it finished
//
// # Dispatcher
//
// The gateway wires it like this (see pushsetup for the one-call form):
//
//	router := push.NewRouter(logger)
//	router.Handle("qs.wake", queues.HandlePushResult) // one handler per owner kind
//	router.HandleDeadTokens(tokens.HandleDeadToken)   // every dead token, whoever sent it
//	d, err := push.NewDispatcher(logger, senders, push.DispatcherConfig{
//		OnResult: router.Deliver,
//	})
//	...
//	err = d.Enqueue(ctx, n) // never blocks: ErrQueueFull, ErrClosed, ErrNoRoute, ...
//	...
//	err = d.Close(shutdownCtx) // drains within shutdownCtx's deadline
//
// Each route — a (platform, app) pair, i.e. one set of credentials — has
// its own bounded queue (QueueSize unfinished notifications), its own
// lazily started workers (up to Workers concurrent sends), its own circuit
// breaker and metrics, so a slow or broken provider or credential delays
// only its own route. Transient failures are retried up to MaxAttempts
// calls with exponential backoff and full jitter, never sooner than the
// provider's Retry-After; a Retry-After beyond MaxRetryAfter ends the
// notification with ClassRetryable instead of holding it in memory.
// BreakerThreshold consecutive credential failures open the route's
// circuit: while open, Enqueue refuses the route's notifications and
// queued ones fail fast with ReasonCircuitOpen; after the cooldown one
// probe is let through.
//
// Every notification Enqueue accepted gets exactly one Result through
// OnResult, on the route's worker goroutine: delivered (Err nil, with the
// provider's message id), or failed with its class. Close stops intake and
// waits for all of them; retries due after Close's deadline are abandoned
// at once, and when the deadline passes in-flight sends are cancelled and
// the rest finish as ClassShutdown.
//
// The dispatcher is in memory only: queued notifications die with the
// process. Durability (no lost pushes across restarts) is the job of an
// outbox above it, which keeps a notification until its Result says
// delivered, dead token or bad payload, and re-enqueues the others
// (ClassRetryable, ClassCredential, ClassShutdown, or an Enqueue error)
// later. Delivery is at least once: a retried request that APNs or FCM
// had in fact accepted before the connection broke is delivered twice.
//
// The dispatcher's figures (sent, failed by reason, retries, refusals,
// pending, circuit state per route; call latency per provider) are read
// with Stats; the HTTP layer exports them as Prometheus metrics.
//
// # Configuration
//
// pushsetup.LoadConfig reads the JSON file listing the apps (platform,
// app id, APNs topic, credential files); pushsetup.New turns it into
// senders and a dispatcher, reporting bad or missing credentials by app. With no
// apps configured, LogSender stands in: notifications are logged, not
// delivered, and start-up says so.
package push

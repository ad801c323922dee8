package redisstore

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// maxPipelines bounds the pipelines in flight at once, each on its own
// pooled connection. Fewer pipelines carry more commands each, which is
// the point: one write and one read on each side for a whole batch.
const maxPipelines = 2

// autoPipeline sends the commands of concurrent requests to Redis
// together. A request that finds fewer than maxPipelines in flight sends
// whatever is queued, its own command included; commands that arrive
// meanwhile queue up and leave with the next pipeline. Under load many
// requests thus share each round trip's system calls, in the gateway and
// in Redis, instead of paying for one each; alone, a request goes out at
// once, as it would without batching.
//
// It starts no goroutine of its own: senders are the requests themselves,
// and a sender that has served two rounds hands the rest to a goroutine
// that exits when the queue is empty, so no request waits long for
// others' commands.
type autoPipeline struct {
	client *redis.Client

	mu       sync.Mutex
	queue    []*queuedCmd // guarded by mu
	inFlight int          // senders running; guarded by mu
}

type queuedCmd struct {
	cmd  redis.Cmder
	done chan struct{}
}

// senderRounds is how many pipelines a request sends before handing over.
const senderRounds = 2

// do runs cmd in a shared pipeline and returns its error. The pipeline is
// bounded by the client's read and write timeouts rather than by ctx, as
// it carries other requests' commands; when ctx ends first, do returns
// ctx's error and cmd may still run.
func (p *autoPipeline) do(ctx context.Context, cmd redis.Cmder) error {
	q := &queuedCmd{cmd: cmd, done: make(chan struct{})}
	p.mu.Lock()
	p.queue = append(p.queue, q)
	send := p.inFlight < maxPipelines
	if send {
		p.inFlight++
	}
	p.mu.Unlock()
	if send {
		p.send(senderRounds)
	}
	select {
	case <-q.done:
		return cmd.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send sends queued commands until the queue is empty, handing over to a
// new goroutine after rounds pipelines.
func (p *autoPipeline) send(rounds int) {
	for i := 0; ; i++ {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.inFlight--
			p.mu.Unlock()
			return
		}
		if i == rounds {
			p.mu.Unlock()
			go p.send(-1)
			return
		}
		batch := p.queue
		p.queue = nil
		p.mu.Unlock()
		p.exec(batch)
	}
}

// exec sends batch as one pipeline and releases its waiters. Errors are
// recorded on each command. The whole exchange, connection set-up
// included, is bounded by the client's read timeout, as a single command's
// would be.
func (p *autoPipeline) exec(batch []*queuedCmd) {
	pipe := p.client.Pipeline()
	timeout := p.client.Options().ReadTimeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, q := range batch {
		pipe.Process(ctx, q.cmd)
	}
	pipe.Exec(ctx)
	for _, q := range batch {
		close(q.done)
	}
}

// evalSha runs script through the pipeline, falling back to a direct run
// (which loads the script) when Redis does not know it yet.
func (p *autoPipeline) evalSha(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	cmdArgs := make([]any, 0, 3+len(keys)+len(args))
	cmdArgs = append(cmdArgs, "evalsha", script.Hash(), len(keys))
	for _, k := range keys {
		cmdArgs = append(cmdArgs, k)
	}
	cmdArgs = append(cmdArgs, args...)
	cmd := redis.NewCmd(ctx, cmdArgs...)
	if err := p.do(ctx, cmd); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		return script.Run(ctx, p.client, keys, args...)
	}
	return cmd
}

package otlp

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // exporters may compress with gzip
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
)

// GRPCOptions configures the server NewGRPCServer builds.
type GRPCOptions struct {
	// MaxRecvBytes bounds one request message after decompression; gRPC
	// answers ResourceExhausted beyond it. Default 16 MiB (the OpenTelemetry
	// Collector's default is 4 MiB; SDK exporters send far less).
	MaxRecvBytes int
	// MaxConcurrentStreams bounds concurrent requests per connection.
	// Default 128.
	MaxConcurrentStreams uint32
	// Tokens are accepted bearer tokens by source, as ingest.ParseTokens
	// returns them: the "otlp_grpc" entry, else "*". Clients send
	// "authorization: Bearer <token>" metadata (the exporters'
	// WithHeaders). None configured: open.
	Tokens map[string][]string
	// Limits are request rates by source, as ingest.ParseLimits returns
	// them: the "otlp_grpc" entry, else "*". Over the limit a request gets
	// ResourceExhausted with RetryInfo, which exporters retry.
	Limits map[string]ingest.Limit
}

// NewGRPCServer builds the server the OTLP gRPC listener runs: bounded
// message size and streams, gzip accepted, bearer tokens and the rate
// limit checked before a request is decoded into records. extra adds
// options such as grpc.Creds for TLS. Register the collector on it with
// RegisterGRPC, then Serve a listener (--otlp-grpc-addr).
func NewGRPCServer(m *ingest.Metrics, o GRPCOptions, extra ...grpc.ServerOption) *grpc.Server {
	if o.MaxRecvBytes <= 0 {
		o.MaxRecvBytes = 16 << 20
	}
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = 128
	}
	g := &grpcGuard{metrics: m, tokens: o.Tokens[SourceGRPC]}
	if g.tokens == nil {
		g.tokens = o.Tokens["*"]
	}
	lim, ok := o.Limits[SourceGRPC]
	if !ok {
		lim, ok = o.Limits["*"]
	}
	if ok && lim.Rate > 0 {
		g.limiter = rate.NewLimiter(rate.Limit(lim.Rate), max(1, lim.Burst))
	}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(o.MaxRecvBytes),
		grpc.MaxConcurrentStreams(o.MaxConcurrentStreams),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 10 * time.Minute}),
		grpc.ChainUnaryInterceptor(g.unary),
	}
	return grpc.NewServer(append(opts, extra...)...)
}

// RegisterGRPC registers the OTLP metrics and logs services on s.
func (c *Collector) RegisterGRPC(s *grpc.Server) {
	pmetricotlp.RegisterGRPCServer(s, &metricsService{c: c})
	plogotlp.RegisterGRPCServer(s, &logsService{c: c})
}

type metricsService struct {
	pmetricotlp.UnimplementedGRPCServer
	c *Collector
}

func (s *metricsService) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	res, herr := s.c.exportMetrics(ctx, req.Metrics(), SourceGRPC)
	if herr != nil {
		return pmetricotlp.NewExportResponse(), s.c.grpcError(herr)
	}
	s.c.metrics.Requests.WithLabelValues(SourceGRPC, "200").Inc()
	return metricsResponse(res), nil
}

type logsService struct {
	plogotlp.UnimplementedGRPCServer
	c *Collector
}

func (s *logsService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	res, herr := s.c.exportLogs(ctx, req.Logs(), SourceGRPC)
	if herr != nil {
		return plogotlp.NewExportResponse(), s.c.grpcError(herr)
	}
	s.c.metrics.Requests.WithLabelValues(SourceGRPC, "200").Inc()
	return logsResponse(res), nil
}

// grpcError counts a refused request and turns it into a status: gRPC
// codes as the OTLP specification pairs them with HTTP statuses, and
// RetryInfo when the sender should come back.
func (c *Collector) grpcError(e *ingest.HTTPError) error {
	c.metrics.Requests.WithLabelValues(SourceGRPC, strconv.Itoa(e.Status)).Inc()
	if e.Reason != reasonAllRefused {
		c.metrics.Rejected.WithLabelValues(SourceGRPC, e.Reason).Inc()
	}
	return statusError(grpcCode(e.Status), e.Message, e.RetryAfter)
}

func statusError(code codes.Code, msg, retryAfter string) error {
	st := status.New(code, msg)
	if secs, err := strconv.Atoi(retryAfter); err == nil && secs > 0 {
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)}); err == nil {
			st = d
		}
	}
	return st.Err()
}

// grpcGuard is ingest.Guard for the gRPC listener: bearer tokens and a
// token-bucket rate limit, counted like the HTTP refusals.
type grpcGuard struct {
	metrics *ingest.Metrics
	tokens  []string
	limiter *rate.Limiter
}

func (g *grpcGuard) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if len(g.tokens) > 0 && !g.validToken(ctx) {
		g.refuse(http.StatusUnauthorized, "unauthorized")
		return nil, status.Error(codes.Unauthenticated,
			"missing or wrong bearer token for otlp_grpc: send authorization: Bearer <token> metadata as configured with --ingest-token")
	}
	if g.limiter != nil && !g.limiter.Allow() {
		g.refuse(http.StatusTooManyRequests, "rate_limited")
		return nil, statusError(codes.ResourceExhausted, "otlp_grpc is over its rate limit: retry later", "1")
	}
	return next(ctx, req)
}

func (g *grpcGuard) refuse(code int, reason string) {
	g.metrics.Requests.WithLabelValues(SourceGRPC, strconv.Itoa(code)).Inc()
	g.metrics.Rejected.WithLabelValues(SourceGRPC, reason).Inc()
}

func (g *grpcGuard) validToken(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	valid := false
	for _, auth := range md.Get("authorization") {
		got, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			continue
		}
		for _, t := range g.tokens {
			// Constant time, and no early exit that would reveal which matched.
			if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
				valid = true
			}
		}
	}
	return valid
}

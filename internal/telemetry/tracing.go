package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// ServiceName is the service.name of every span unless OTEL_SERVICE_NAME says otherwise.
const ServiceName = "workingtracker"

// Config is the tracing configuration, read from the standard OpenTelemetry variables.
type Config struct {
	// Endpoint is where spans go (OTLP over HTTP): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is,
	// or OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces. Empty: tracing is off.
	Endpoint string
	// Sampler is OTEL_TRACES_SAMPLER with OTEL_TRACES_SAMPLER_ARG; default parent-based
	// always-on (a gateway's sampled flag decides, a request without one is sampled).
	Sampler sdktrace.Sampler
	// FieldSpans is OTEL_GRAPHQL_FIELD_SPANS: a span per resolved GraphQL field. Off by default:
	// a 2,800-object page would make 2,800 spans, and installing a field interceptor sends every
	// field through gqlgen's field middleware (the generated code's fast paths are skipped).
	FieldSpans bool
}

// ConfigFromEnv reads the configuration through getenv. OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER=none turn tracing off; the exporter's other settings (headers, timeout,
// compression, certificates) are read by the OTLP exporter from the process environment.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	if v := getenv("OTEL_GRAPHQL_FIELD_SPANS"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("OTEL_GRAPHQL_FIELD_SPANS: %w", err))
		}
		c.FieldSpans = on
	}
	sampler, err := samplerFromEnv(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		errs = append(errs, err)
	}
	c.Sampler = sampler
	switch exp := getenv("OTEL_TRACES_EXPORTER"); exp {
	case "", "otlp":
	case "none":
		return Config{}, errors.Join(errs...)
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER %q: only otlp (or none) is supported", exp))
	}
	if disabled, _ := strconv.ParseBool(getenv("OTEL_SDK_DISABLED")); disabled {
		return Config{}, errors.Join(errs...)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := getenv(name); p != "" && p != "http/protobuf" {
			errs = append(errs, fmt.Errorf("%s %q: only http/protobuf is supported", name, p))
		}
	}
	if e := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); e != "" {
		c.Endpoint = e
	} else if e := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); e != "" {
		c.Endpoint = strings.TrimRight(e, "/") + "/v1/traces"
	}
	return c, errors.Join(errs...)
}

// samplerFromEnv is the sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name, as the
// OpenTelemetry specification defines them.
func samplerFromEnv(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" && strings.HasSuffix(name, "traceidratio") {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q: a ratio between 0 and 1", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q: one of always_on, always_off, traceidratio, "+
			"parentbased_always_on, parentbased_always_off, parentbased_traceidratio", name)
	}
}

// Tracing is what the instrumented layers need.
type Tracing struct {
	// Provider starts spans; nil when tracing is off (every layer then skips instrumenting).
	Provider trace.TracerProvider
	// FieldSpans asks for a span per GraphQL field (Config.FieldSpans).
	FieldSpans bool
	shutdown   func(context.Context) error
}

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// New builds the tracing cfg describes: an OTLP/HTTP exporter behind a batching processor, or
// nothing when cfg has no endpoint.
func New(ctx context.Context, cfg Config) (*Tracing, error) {
	if cfg.Endpoint == "" {
		return &Tracing{}, nil
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(ServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	tp := NewProvider(ProviderOpts{Exporter: exporter, Sampler: cfg.Sampler, Resource: res})
	return &Tracing{Provider: tp, FieldSpans: cfg.FieldSpans, shutdown: tp.Shutdown}, nil
}

// ProviderOpts builds a provider around an exporter.
type ProviderOpts struct {
	Exporter sdktrace.SpanExporter
	// Sampler defaults to parent-based always-on.
	Sampler  sdktrace.Sampler
	Resource *resource.Resource
	// Synchronous exports each span as it ends (tests with an in-memory exporter); otherwise
	// spans are batched.
	Synchronous bool
}

// NewProvider is the SDK provider every trace of the service goes through: its exporter is
// wrapped so that no span leaves with an attribute that could carry personal data or
// credentials (see redactedAttributes).
func NewProvider(opts ProviderOpts) *sdktrace.TracerProvider {
	if opts.Sampler == nil {
		opts.Sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	exporter := redactingExporter{next: opts.Exporter}
	var processor sdktrace.SpanProcessor
	if opts.Synchronous {
		processor = sdktrace.NewSimpleSpanProcessor(exporter)
	} else {
		processor = sdktrace.NewBatchSpanProcessor(exporter)
	}
	popts := []sdktrace.TracerProviderOption{sdktrace.WithSampler(opts.Sampler), sdktrace.WithSpanProcessor(processor)}
	if opts.Resource != nil {
		popts = append(popts, sdktrace.WithResource(opts.Resource))
	}
	return sdktrace.NewTracerProvider(popts...)
}

// Propagator reads and writes W3C trace context and baggage, as gateways send them.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

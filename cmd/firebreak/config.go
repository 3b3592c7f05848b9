package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Every flag can also come from an environment variable FIREBREAK_<NAME>
// (upper case, dashes as underscores) or from the YAML file given with
// --config, whose keys are the flag names. Precedence: command line, then
// environment, then file, then the default shown in --help.

// envName is the environment variable for a flag.
func envName(flagName string) string {
	return "FIREBREAK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args into fs, then fills unset flags from the
// environment and the YAML config file.
func parseFlags(fs *flag.FlagSet, args []string) error {
	configPath := fs.String("config", os.Getenv("FIREBREAK_CONFIG"), "YAML file whose keys are flag names, e.g. `partitions: 16`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags go before, e.g. --data-dir DIR)", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	fileValues := map[string]any{}
	if *configPath != "" {
		raw, err := os.ReadFile(*configPath)
		if err != nil {
			return fmt.Errorf("config file: %w", err)
		}
		if err := yaml.Unmarshal(raw, &fileValues); err != nil {
			return fmt.Errorf("config file %s: %w", *configPath, err)
		}
		var unknown []string
		for k := range fileValues {
			if fs.Lookup(k) == nil {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return fmt.Errorf("config file %s: unknown keys %v (keys are flag names; see --help)", *configPath, unknown)
		}
	}
	var firstErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" || firstErr != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				firstErr = fmt.Errorf("env %s=%q: %w", envName(f.Name), v, err)
			}
			return
		}
		if v, ok := fileValues[f.Name]; ok {
			var s string
			switch tv := v.(type) {
			case []any:
				parts := make([]string, len(tv))
				for i, p := range tv {
					parts[i] = fmt.Sprint(p)
				}
				s = strings.Join(parts, ",")
			default:
				s = fmt.Sprint(tv)
			}
			if err := fs.Set(f.Name, s); err != nil {
				firstErr = fmt.Errorf("config key %s=%q: %w", f.Name, s, err)
			}
		}
	})
	return firstErr
}

// listFlag is a comma-separated (or repeated) list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// usageFor prints a subcommand's help with each flag's env variable.
func usageFor(fs *flag.FlagSet, summary string) func() {
	return func() {
		out := fs.Output()
		fmt.Fprintf(out, "%s\n\nFlags (each also from env FIREBREAK_<NAME> or a --config YAML key):\n", summary)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(out, "  --%s\n        %s%s [env %s]\n", f.Name, f.Usage, def, envName(f.Name))
		})
	}
}

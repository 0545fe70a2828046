package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/subosito/gotenv"
)

// DefaultEnvFile is the dotenv file read from the working directory when
// --env-file names none.
const DefaultEnvFile = ".env"

// ignoredOriginalNames are names of the original service's .env that authsvc
// reads on purpose but does not use, each with what to do instead.
var ignoredOriginalNames = map[string]string{
	"SERVICE_NAME":      "log lines always carry service=authsvc",
	"DEBUG":             "set LOG_LEVEL=debug for verbose logs",
	"TEST_DATABASE_URL": "authsvc's tests create and drop their own databases",
	"LOG_RETENTION":     "authsvc writes logs to stderr (and Logstash); keep and expire them where they are collected",
}

// legacyLogNames are the original's logging names handled by applyLegacyLogEnv.
var legacyLogNames = []string{"JSON_LOGS", "ENABLE_LOGSTASH", "SYSLOG_HOST", "SYSLOG_PORT"}

// environment is what Load reads names from: the real environment first,
// then the dotenv file (the real environment always wins).
type environment struct {
	file   string            // the dotenv file read, "" when none
	dotenv map[string]string // its names
}

// readEnvironment reads the dotenv file: explicit must exist; otherwise
// ./.env is read when present.
func readEnvironment(explicit string) (*environment, error) {
	path := explicit
	if path == "" {
		path = DefaultEnvFile
	}
	f, err := os.Open(path)
	if err != nil {
		if explicit == "" && errors.Is(err, fs.ErrNotExist) {
			return &environment{dotenv: map[string]string{}}, nil
		}
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	defer f.Close()
	vars, err := gotenv.StrictParse(f)
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	return &environment{file: path, dotenv: vars}, nil
}

// lookup returns a name's value from the real environment, else the dotenv file.
func (e *environment) lookup(name string) (string, bool) {
	if v, ok := os.LookupEnv(name); ok {
		return v, true
	}
	v, ok := e.dotenv[name]
	return v, ok
}

// get is lookup without the flag.
func (e *environment) get(name string) string {
	v, _ := e.lookup(name)
	return v
}

// envNames lists a key's environment names, strongest first.
func envNames(key string) []string {
	names := []string{EnvName(key)}
	if legacy, ok := legacyEnv[key]; ok {
		names = append(names, legacy)
	}
	return names
}

// KnownEnvNames lists every environment name authsvc reads a setting from:
// the AUTHSVC_* name of every key, the original service's names, and
// AUTHSVC_TESTING.
func KnownEnvNames() map[string]bool {
	known := map[string]bool{"AUTHSVC_TESTING": true}
	for key := range Defaults() {
		for _, n := range envNames(key) {
			known[n] = true
		}
	}
	for _, n := range legacyLogNames {
		known[n] = true
	}
	return known
}

// notices reports, once each, the names that are set but not used: every
// unknown name of the dotenv file, and the original's ignored names wherever
// they are set.
func (e *environment) notices() []string {
	known := KnownEnvNames()
	var out []string
	seen := map[string]bool{}
	for name := range ignoredOriginalNames {
		if _, ok := e.lookup(name); ok {
			seen[name] = true
			out = append(out, fmt.Sprintf("%s is not used: %s", name, ignoredOriginalNames[name]))
		}
	}
	for name := range e.dotenv {
		switch {
		case seen[name]:
		case name == "AUTHSVC_TESTING":
			out = append(out, fmt.Sprintf("%s is not used in %s: set it in the environment (test suites only)", name, e.file))
		case !known[name]:
			out = append(out, fmt.Sprintf("%s is not used: authsvc has no setting of that name (see the configuration table in README.md)", name))
		}
	}
	for _, kv := range os.Environ() { // a misspelt AUTHSVC_* name in the real environment
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AUTHSVC_") && !known[name] && !seen[name] && !envOnlyNames[name] &&
			!strings.HasPrefix(name, "AUTHSVC_TEST_") {
			if _, inFile := e.dotenv[name]; !inFile {
				out = append(out, fmt.Sprintf("%s is not used: authsvc has no setting of that name (see the configuration table in README.md)", name))
			}
		}
	}
	sort.Strings(out)
	return out
}

// envOnlyNames are AUTHSVC_* names read outside the configuration (by the CLI).
var envOnlyNames = map[string]bool{"AUTHSVC_PASSWORD": true}

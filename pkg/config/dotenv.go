package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
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
	f, err := os.Open(path) //nolint:gosec // the operator names the file (--env-file)
	if err != nil {
		if explicit == "" && errors.Is(err, fs.ErrNotExist) {
			return &environment{dotenv: map[string]string{}}, nil
		}
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	defer f.Close()
	raw, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	vars, err := gotenv.StrictParse(strings.NewReader(asPythonDotenv(string(raw))))
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
			out = append(out, fmt.Sprintf("%s is not used: authsvc has no setting of that name (config.example.yaml lists every setting)", name))
		}
	}
	for _, kv := range os.Environ() { // a misspelt AUTHSVC_* name in the real environment
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AUTHSVC_") && !known[name] && !seen[name] && !envOnlyNames[name] &&
			!strings.HasPrefix(name, "AUTHSVC_TEST_") {
			if _, inFile := e.dotenv[name]; !inFile {
				out = append(out, fmt.Sprintf("%s is not used: authsvc has no setting of that name (config.example.yaml lists every setting)", name))
			}
		}
	}
	sort.Strings(out)
	return out
}

// envOnlyNames are AUTHSVC_* names read outside the configuration (by the CLI).
var envOnlyNames = map[string]bool{"AUTHSVC_PASSWORD": true}

// dollarRef is a "$" that does not open "${": python-dotenv, which read the
// original's .env, expands only ${NAME}, while gotenv would expand $NAME too.
var dollarRef = regexp.MustCompile(`\$([^{]|$)`)

// asPythonDotenv rewrites a dotenv text so that gotenv reads each value as
// python-dotenv (the original's reader) does: a "$" not followed by "{" is
// literal (SECRET_KEY=ab$cd stays ab$cd), and in an unquoted value "#"
// starts a comment only after whitespace (MAIL_PASSWORD=pa#ss stays pa#ss).
// Single-quoted values are literal in both and left alone. (One difference
// remains: gotenv turns \n and \r inside the double quotes this adds into
// line breaks, so an unquoted value holding "#" and a literal \n changes.)
func asPythonDotenv(text string) string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		eq := strings.IndexByte(line, '=')
		if trimmed == "" || trimmed[0] == '#' || eq < 0 {
			continue
		}
		key, val := line[:eq+1], strings.TrimLeft(line[eq+1:], " \t")
		switch {
		case strings.HasPrefix(val, "'"):
		case strings.HasPrefix(val, `"`):
			lines[i] = key + dollarRef.ReplaceAllString(val, `\$$$1`)
		default:
			val = strings.TrimRight(val, "\r")
			if c := commentStart(val); c >= 0 {
				val = val[:c]
			}
			val = strings.TrimRight(val, " \t")
			if strings.ContainsAny(val, `#"\`) { // quote it, so gotenv keeps the "#"
				val = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(val) + `"`
			}
			lines[i] = key + dollarRef.ReplaceAllString(val, `\$$$1`)
		}
	}
	return strings.Join(lines, "\n")
}

// commentStart is the index of a "#" preceded by whitespace, or -1.
func commentStart(val string) int {
	for i := 1; i < len(val); i++ {
		if val[i] == '#' && (val[i-1] == ' ' || val[i-1] == '\t') {
			return i
		}
	}
	return -1
}

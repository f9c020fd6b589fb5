// A stand-in for `helm template` (Helm cannot be installed on the test machines): renders a
// chart's templates with Go's text/template and the few Sprig functions the Stratus chart uses.
//
//	go run deploy/helm/render.go CHART_DIR < context.json
//
// context.json: {"Values": {...}, "Release": {"Name", "Namespace", "Service"}, "Chart": {"Name",
// "Version", "AppVersion"}} (deploy/test-kube builds it from Chart.yaml and values.yaml).
// Prints every template but _*.tpl and NOTES.txt, with
// Helm's "# Source:" separators; NOTES.txt is rendered as well so that it is checked.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"text/template"
)

func empty(v interface{}) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.String, reflect.Map, reflect.Slice, reflect.Array:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Float32, reflect.Float64:
		return r.Float() == 0
	case reflect.Int, reflect.Int64, reflect.Int32:
		return r.Int() == 0
	}
	return false
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

func toJSON(v interface{}) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// toYAML writes block YAML like Helm's toYaml (keys sorted; scalars in JSON form, which YAML
// reads the same), so that its output can continue a block list or map as Helm's can.
func toYAML(v interface{}) (string, error) {
	lines, err := yamlLines(v)
	return strings.Join(lines, "\n"), err
}

func yamlKey(k string) string {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./-", r)) {
			q, _ := json.Marshal(k)
			return string(q)
		}
	}
	return k
}

func yamlLines(v interface{}) ([]string, error) {
	switch t := v.(type) {
	case map[string]interface{}:
		if len(t) == 0 {
			return []string{"{}"}, nil
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			inner, err := yamlLines(t[k])
			if err != nil {
				return nil, err
			}
			if nested(t[k]) {
				out = append(out, yamlKey(k)+":")
				for _, line := range inner {
					out = append(out, "  "+line)
				}
			} else {
				out = append(out, yamlKey(k)+": "+inner[0])
			}
		}
		return out, nil
	case []interface{}:
		if len(t) == 0 {
			return []string{"[]"}, nil
		}
		var out []string
		for _, item := range t {
			inner, err := yamlLines(item)
			if err != nil {
				return nil, err
			}
			out = append(out, "- "+inner[0])
			for _, line := range inner[1:] {
				out = append(out, "  "+line)
			}
		}
		return out, nil
	default:
		b, err := json.Marshal(t)
		return []string{string(b)}, err
	}
}

func nested(v interface{}) bool {
	switch t := v.(type) {
	case map[string]interface{}:
		return len(t) > 0
	case []interface{}:
		return len(t) > 0
	}
	return false
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: render.go CHART_DIR < context.json")
		os.Exit(2)
	}
	dir := os.Args[1]
	var context map[string]interface{}
	if err := json.NewDecoder(os.Stdin).Decode(&context); err != nil {
		fmt.Fprintln(os.Stderr, "render.go: context:", err)
		os.Exit(2)
	}
	root := template.New("chart").Option("missingkey=default")
	funcs := template.FuncMap{
		"default": func(def interface{}, given ...interface{}) interface{} {
			if len(given) == 0 || empty(given[0]) {
				return def
			}
			return given[0]
		},
		"quote":      func(v interface{}) string { return fmt.Sprintf("%q", fmt.Sprint(v)) },
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"trunc": func(n int, s string) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"toJson":  toJSON,
		"toYaml":  toYAML,
		"indent":  indent,
		"nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"required": func(message string, v interface{}) (interface{}, error) {
			if empty(v) {
				return nil, fmt.Errorf("%s", message)
			}
			return v, nil
		},
		"include": func(name string, data interface{}) (string, error) {
			var out bytes.Buffer
			err := root.ExecuteTemplate(&out, name, data)
			return out.String(), err
		},
	}
	root.Funcs(funcs)
	files, _ := filepath.Glob(filepath.Join(dir, "templates", "*"))
	sort.Strings(files)
	var names []string
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "render.go:", err)
			os.Exit(1)
		}
		name := "templates/" + filepath.Base(file)
		if _, err := root.New(name).Parse(string(text)); err != nil {
			fmt.Fprintln(os.Stderr, "render.go:", err)
			os.Exit(1)
		}
		if !strings.HasPrefix(filepath.Base(file), "_") {
			names = append(names, name)
		}
	}
	for _, name := range names {
		var out bytes.Buffer
		if err := root.ExecuteTemplate(&out, name, context); err != nil {
			fmt.Fprintln(os.Stderr, "render.go:", err)
			os.Exit(1)
		}
		text := strings.ReplaceAll(out.String(), "<no value>", "")
		if strings.HasSuffix(name, "NOTES.txt") {
			fmt.Fprintln(os.Stderr, text)
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Printf("---\n# Source: %s\n%s\n", name, strings.TrimRight(text, "\n"))
	}
}

// Command argolua runs an Argo CD resource health check against Kubernetes objects, the way
// Argo CD does: the Lua script runs in gopher-lua (Lua 5.1) with the object as the global `obj`,
// and must return a table with `status` (and optionally `message`).
//
// Usage: argolua SCRIPT.lua < objects.json
//
// objects.json is a JSON array of objects; the answer is a JSON array of {"status", "message"},
// one per object, in order. A script error is an answer of status "Error" with the message, so
// one bad case does not hide the others.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	lua "github.com/yuin/gopher-lua"
)

type health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func toLua(l *lua.LState, v interface{}) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []interface{}:
		t := l.NewTable()
		for _, item := range x {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]interface{}:
		t := l.NewTable()
		for k, item := range x {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	}
	panic(fmt.Sprintf("unexpected JSON value %T", v))
}

func run(script string, obj interface{}) health {
	// As Argo CD's lua.VM: only the safe standard libraries are opened.
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		l.Push(l.NewFunction(lib.fn))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return health{Status: "Error", Message: err.Error()}
	}
	ret := l.Get(-1)
	table, ok := ret.(*lua.LTable)
	if !ok {
		return health{Status: "Error", Message: fmt.Sprintf("the script returned %s, not a table", ret.Type())}
	}
	status, ok := table.RawGetString("status").(lua.LString)
	if !ok {
		return health{Status: "Error", Message: "the returned table has no string status"}
	}
	out := health{Status: string(status)}
	if message, ok := table.RawGetString("message").(lua.LString); ok {
		out.Message = string(message)
	}
	return out
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argolua SCRIPT.lua < objects.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var objects []interface{}
	if err := json.NewDecoder(os.Stdin).Decode(&objects); err != nil {
		fmt.Fprintln(os.Stderr, "stdin: expected a JSON array of objects:", err)
		os.Exit(2)
	}
	answers := make([]health, 0, len(objects))
	for _, obj := range objects {
		answers = append(answers, run(string(script), obj))
	}
	if err := json.NewEncoder(os.Stdout).Encode(answers); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

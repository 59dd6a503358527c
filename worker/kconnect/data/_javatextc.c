/*
 * kconnect.data._javatextc: Java's toString spelling of plain values, in C.
 *
 * The pure-Python `kconnect.data._javatext.java_text_py` is the specification; this module
 * must spell every value exactly as it does (tests/unit/data/test_javatext.py compares the two
 * over generated values). It exists because FileStreamSink writes every schemaless record
 * through it, and in Python each node of a nested value costs a call.
 *
 * What it handles itself, by exact type only: str (as is), int (decimal), bool (true/false),
 * None (null), float in [1e-3, 1e7) (Python's repr, which is Java's Double.toString there),
 * dict ({k=v, k=v}) and list ([a, b]); once `configure` has named them, a Struct
 * (`Struct{a=1,b=x}`, unset fields left out, each value spelled as above) and, when the process's
 * zone is UTC, a datetime that is naive or in `datetime.UTC`, a date and a time, as
 * java.util.Date.toString prints them (`Sun Nov 12 02:15:40 UTC 2023`; a date is midnight UTC of
 * its day, a time that moment of 1970-01-01). Everything else, including subclasses of those
 * types, floats outside that range, NaN and infinities, goes to the `other` callable the caller
 * passes, which must return a str.
 *
 * A Struct is read through its `_values` list and its schema's `_struct_text` tuple of
 * `name=` prefixes, which `prefixes(schema)` (given to `configure`) makes when the schema has
 * none yet; a Struct whose two do not match in length raises TypeError.
 *
 * Failure: any exception (from `other`, from an int too long to print, from memory, or a
 * RecursionError for a value nested deeper than the interpreter's recursion limit) propagates
 * with nothing written. The GIL is held throughout; a container is kept alive while it is read,
 * and a list's length is read again at each step, so `other` mutating a container cannot make
 * this read freed memory: a list that shrinks ends early, a dict that changes size raises
 * RuntimeError, as iterating them in Python does.
 *
 * Built for CPython 3.11 to 3.13, whose `_PyUnicodeWriter` it writes into (hatch_build.py);
 * elsewhere the pure-Python spelling is used.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <math.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030E0000
#error "kconnect.data._javatextc is written for CPython 3.11 to 3.13"
#endif

typedef _PyUnicodeWriter Writer;

static int emit(Writer *w, PyObject *other, PyObject *value);

/* Set by `configure`; NULL until then (and `zone` NULL unless the process's zone is UTC). */
static PyObject *struct_type;
static PyObject *struct_prefixes;
static PyObject *zone;
static PyObject *str_values;
static PyObject *str_schema;
static PyObject *str_struct_text;

static const char *const DAYS[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* 0 = Sunday, for a proleptic Gregorian date (Sakamoto's method). */
static int
day_of_week(int y, int m, int d)
{
    static const int offsets[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    return (y + y / 4 - y / 100 + y / 400 + offsets[m - 1] + d) % 7;
}

/* `EEE MMM dd HH:mm:ss <zone> yyyy`, the moment already in the zone. */
static int
emit_moment(Writer *w, int y, int mo, int d, int h, int mi, int s)
{
    char text[64];
    int len = snprintf(text, sizeof text, "%s %s %02d %02d:%02d:%02d ", DAYS[day_of_week(y, mo, d)],
                       MONTHS[mo - 1], d, h, mi, s);
    if (_PyUnicodeWriter_WriteASCIIString(w, text, len) < 0
        || _PyUnicodeWriter_WriteStr(w, zone) < 0)
        return -1;
    len = snprintf(text, sizeof text, " %d", y);
    return _PyUnicodeWriter_WriteASCIIString(w, text, len);
}

/* 1 if written, 0 if `value` is not a date, time or datetime this writes, -1 on error. */
static int
emit_date(Writer *w, PyObject *value)
{
    if (zone == NULL)
        return 0;
    if (PyDateTime_CheckExact(value)) {
        PyObject *tz = PyDateTime_DATE_GET_TZINFO(value);
        if (tz != Py_None && tz != PyDateTime_TimeZone_UTC)
            return 0;
        if (emit_moment(w, PyDateTime_GET_YEAR(value), PyDateTime_GET_MONTH(value),
                        PyDateTime_GET_DAY(value), PyDateTime_DATE_GET_HOUR(value),
                        PyDateTime_DATE_GET_MINUTE(value), PyDateTime_DATE_GET_SECOND(value)) < 0)
            return -1;
        return 1;
    }
    if (PyDate_CheckExact(value)) {
        if (emit_moment(w, PyDateTime_GET_YEAR(value), PyDateTime_GET_MONTH(value),
                        PyDateTime_GET_DAY(value), 0, 0, 0) < 0)
            return -1;
        return 1;
    }
    if (PyTime_CheckExact(value)) {
        if (emit_moment(w, 1970, 1, 1, PyDateTime_TIME_GET_HOUR(value),
                        PyDateTime_TIME_GET_MINUTE(value), PyDateTime_TIME_GET_SECOND(value)) < 0)
            return -1;
        return 1;
    }
    return 0;
}

/* The schema's `name=` prefixes, made by `prefixes(schema)` the first time. */
static PyObject *
prefixes_of(PyObject *schema)
{
    PyObject *prefixes = PyObject_GetAttr(schema, str_struct_text);
    if (prefixes == NULL)
        return NULL;
    if (prefixes == Py_None) {
        Py_DECREF(prefixes);
        prefixes = PyObject_CallOneArg(struct_prefixes, schema);
        if (prefixes == NULL)
            return NULL;
    }
    if (!PyTuple_CheckExact(prefixes)) {
        PyErr_Format(PyExc_TypeError, "a Struct's field prefixes must be a tuple, not %.200s",
                     Py_TYPE(prefixes)->tp_name);
        Py_DECREF(prefixes);
        return NULL;
    }
    return prefixes;
}

static int
emit_struct(Writer *w, PyObject *other, PyObject *value)
{
    PyObject *schema = PyObject_GetAttr(value, str_schema);
    if (schema == NULL)
        return -1;
    PyObject *prefixes = prefixes_of(schema);
    Py_DECREF(schema);
    if (prefixes == NULL)
        return -1;
    PyObject *values = PyObject_GetAttr(value, str_values);
    if (values == NULL) {
        Py_DECREF(prefixes);
        return -1;
    }
    int rc = -1;
    if (!PyList_CheckExact(values) || PyList_GET_SIZE(values) != PyTuple_GET_SIZE(prefixes)) {
        PyErr_SetString(PyExc_TypeError, "a Struct's values do not match its schema's fields");
        goto done;
    }
    if (_PyUnicodeWriter_WriteASCIIString(w, "Struct{", 7) < 0)
        goto done;
    int first = 1;
    /* The list's length is read again at each step: `other` may change it. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values) && i < PyTuple_GET_SIZE(prefixes); i++) {
        PyObject *item = PyList_GET_ITEM(values, i);
        if (item == Py_None)
            continue;
        Py_INCREF(item);
        int failed = (!first && _PyUnicodeWriter_WriteChar(w, ',') < 0)
                     || _PyUnicodeWriter_WriteStr(w, PyTuple_GET_ITEM(prefixes, i)) < 0
                     || emit(w, other, item) < 0;
        Py_DECREF(item);
        if (failed)
            goto done;
        first = 0;
    }
    rc = _PyUnicodeWriter_WriteChar(w, '}');
done:
    Py_DECREF(values);
    Py_DECREF(prefixes);
    return rc;
}

/* `other(value)`, which must be a str, written out. */
static int
emit_other(Writer *w, PyObject *other, PyObject *value)
{
    PyObject *text = PyObject_CallOneArg(other, value);
    if (text == NULL)
        return -1;
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "the spelling of a %.200s must be a str, not %.200s",
                     Py_TYPE(value)->tp_name, Py_TYPE(text)->tp_name);
        Py_DECREF(text);
        return -1;
    }
    int rc = _PyUnicodeWriter_WriteStr(w, text);
    Py_DECREF(text);
    return rc;
}

static int
emit_int(Writer *w, PyObject *value)
{
    int overflow = 0;
    long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (overflow == 0) {
        char digits[32];
        int len = snprintf(digits, sizeof digits, "%lld", n);
        return _PyUnicodeWriter_WriteASCIIString(w, digits, len);
    }
    /* Beyond 64 bits: int's own repr, with its limit on digits (a ValueError past it). */
    PyObject *text = PyLong_Type.tp_repr(value);
    if (text == NULL)
        return -1;
    int rc = _PyUnicodeWriter_WriteStr(w, text);
    Py_DECREF(text);
    return rc;
}

static int
emit_float(Writer *w, PyObject *other, PyObject *value)
{
    double x = PyFloat_AS_DOUBLE(value);
    double a = fabs(x);
    if (!(a >= 1e-3 && a < 1e7)) /* also NaN */
        return emit_other(w, other, value);
    /* float.__repr__: shortest round-trip digits, plain layout in this range, ".0" if whole. */
    char *text = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL)
        return -1;
    int rc = _PyUnicodeWriter_WriteASCIIString(w, text, (Py_ssize_t)strlen(text));
    PyMem_Free(text);
    return rc;
}

static int
emit_dict(Writer *w, PyObject *other, PyObject *dict)
{
    Py_ssize_t pos = 0, size = PyDict_GET_SIZE(dict);
    PyObject *key, *item;
    int first = 1;
    if (_PyUnicodeWriter_WriteChar(w, '{') < 0)
        return -1;
    while (PyDict_Next(dict, &pos, &key, &item)) {
        if (PyDict_GET_SIZE(dict) != size) {
            /* As iterating it in Python would say, if `other` added or removed keys. */
            PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            return -1;
        }
        Py_INCREF(key);
        Py_INCREF(item);
        int failed = (!first && _PyUnicodeWriter_WriteASCIIString(w, ", ", 2) < 0)
                     || emit(w, other, key) < 0
                     || _PyUnicodeWriter_WriteChar(w, '=') < 0
                     || emit(w, other, item) < 0;
        Py_DECREF(key);
        Py_DECREF(item);
        if (failed)
            return -1;
        first = 0;
    }
    return _PyUnicodeWriter_WriteChar(w, '}');
}

static int
emit_list(Writer *w, PyObject *other, PyObject *list)
{
    if (_PyUnicodeWriter_WriteChar(w, '[') < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        Py_INCREF(item);
        int failed = (i > 0 && _PyUnicodeWriter_WriteASCIIString(w, ", ", 2) < 0)
                     || emit(w, other, item) < 0;
        Py_DECREF(item);
        if (failed)
            return -1;
    }
    return _PyUnicodeWriter_WriteChar(w, ']');
}

static int
emit(Writer *w, PyObject *other, PyObject *value)
{
    if (PyUnicode_CheckExact(value))
        return _PyUnicodeWriter_WriteStr(w, value);
    if (PyLong_CheckExact(value))
        return emit_int(w, value);
    if (PyFloat_CheckExact(value))
        return emit_float(w, other, value);
    if (value == Py_None)
        return _PyUnicodeWriter_WriteASCIIString(w, "null", 4);
    if (value == Py_True)
        return _PyUnicodeWriter_WriteASCIIString(w, "true", 4);
    if (value == Py_False)
        return _PyUnicodeWriter_WriteASCIIString(w, "false", 5);
    int kind = PyDict_CheckExact(value) ? 'd'
               : PyList_CheckExact(value) ? 'l'
               : (struct_type != NULL && Py_IS_TYPE(value, (PyTypeObject *)struct_type)) ? 's'
               : 0;
    if (kind == 0) {
        int written = emit_date(w, value);
        if (written != 0)
            return written < 0 ? -1 : 0;
        return emit_other(w, other, value);
    }
    if (Py_EnterRecursiveCall(" while spelling a value as Java's toString"))
        return -1;
    Py_INCREF(value);
    int rc = kind == 'd'   ? emit_dict(w, other, value)
             : kind == 'l' ? emit_list(w, other, value)
                           : emit_struct(w, other, value);
    Py_DECREF(value);
    Py_LeaveRecursiveCall();
    return rc;
}

/* The two arguments every function takes: `other` (a callable), then one more. */
static int
check_args(const char *name, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes 2 positional arguments (%zd given)", name,
                     nargs);
        return -1;
    }
    if (!PyCallable_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "%s(): other must be callable, not %.200s", name,
                     Py_TYPE(args[0])->tp_name);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(java_text_doc,
"java_text(other, value, /) -> str\n\n"
"`value` as Java's toString spells it; `other(v)` spells what this does not handle.");

static PyObject *
java_text(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (check_args("java_text", args, nargs) < 0)
        return NULL;
    if (PyUnicode_CheckExact(args[1]))
        return Py_NewRef(args[1]);
    Writer w;
    _PyUnicodeWriter_Init(&w);
    w.overallocate = 1;
    if (emit(&w, args[0], args[1]) < 0) {
        _PyUnicodeWriter_Dealloc(&w);
        return NULL;
    }
    return _PyUnicodeWriter_Finish(&w);
}

PyDoc_STRVAR(java_lines_doc,
"java_lines(other, values, /) -> str\n\n"
"Each of `values` (a list) spelled as `java_text` does, each followed by a newline.");

static PyObject *
java_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (check_args("java_lines", args, nargs) < 0)
        return NULL;
    PyObject *values = args[1];
    if (!PyList_Check(values)) {
        PyErr_Format(PyExc_TypeError, "values must be a list, not %.200s",
                     Py_TYPE(values)->tp_name);
        return NULL;
    }
    Writer w;
    _PyUnicodeWriter_Init(&w);
    w.overallocate = 1;
    Py_INCREF(values);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values); i++) {
        PyObject *value = PyList_GET_ITEM(values, i);
        Py_INCREF(value);
        int failed = emit(&w, args[0], value) < 0 || _PyUnicodeWriter_WriteChar(&w, '\n') < 0;
        Py_DECREF(value);
        if (failed) {
            Py_DECREF(values);
            _PyUnicodeWriter_Dealloc(&w);
            return NULL;
        }
    }
    Py_DECREF(values);
    return _PyUnicodeWriter_Finish(&w);
}

PyDoc_STRVAR(configure_doc,
"configure(struct_type, prefixes, zone, /) -> None\n\n"
"Spell instances of `struct_type` (exactly) as Java's Struct.toString, `prefixes(schema)` making\n"
"a schema's tuple of `name=` prefixes; spell dates and times in the process's zone if `zone`,\n"
"its name, is a str (the zone is UTC), else hand them to `other`.");

static PyObject *
configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "configure() takes 3 positional arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (!PyType_Check(args[0]) || !PyCallable_Check(args[1])
        || (args[2] != Py_None && !PyUnicode_CheckExact(args[2]))) {
        PyErr_SetString(PyExc_TypeError,
                        "configure() takes a type, a callable, and a str or None");
        return NULL;
    }
    Py_XSETREF(struct_type, Py_NewRef(args[0]));
    Py_XSETREF(struct_prefixes, Py_NewRef(args[1]));
    Py_XSETREF(zone, args[2] == Py_None ? NULL : Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_FASTCALL, configure_doc},
    {"java_text", (PyCFunction)(void (*)(void))java_text, METH_FASTCALL, java_text_doc},
    {"java_lines", (PyCFunction)(void (*)(void))java_lines, METH_FASTCALL, java_lines_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "kconnect.data._javatextc",
    .m_doc = "Java's toString spelling of plain values; see kconnect.data._javatext.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__javatextc(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return NULL;
    if (str_values == NULL) {
        str_values = PyUnicode_InternFromString("_values");
        str_schema = PyUnicode_InternFromString("schema");
        str_struct_text = PyUnicode_InternFromString("_struct_text");
        if (str_values == NULL || str_schema == NULL || str_struct_text == NULL)
            return NULL;
    }
    return PyModuleDef_Init(&module_def);
}

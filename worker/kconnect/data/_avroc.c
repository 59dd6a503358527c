/*
 * kconnect.data._avroc: the Avro record reader of kconnect.data.avro_codec, in C.
 *
 * `kconnect.data.avro_codec` compiles a reader per Avro record; its generated Python is the
 * specification, and this module must read every body to the same Struct and fail on the same
 * bodies with the same exception type (tests/unit/data/test_avro_codec.py reads generated and
 * mutated bodies both ways). It exists because a sink with AvroConverter reads every record
 * through it, and in Python each field costs a dozen bytecodes.
 *
 * `read_record(program, data, pos)` reads one record from the bytes `data` at `pos` and returns
 * `(struct, pos after it)`. The program, made by avro_codec, is `(struct_type, schema, ops)`:
 * the Struct is made as `object.__new__(struct_type)` with its `schema` and a `_values` list,
 * one value per op, each op a pair `(code, arg)`:
 *
 *   LONG       an Avro int or long: a zig-zag varint of at most 10 bytes, as a Python int;
 *   STRING     a length and UTF-8 bytes (invalid sequences replaced, as Java's String does);
 *   OPT_STRING a union ["null", "string"]: the branch byte 0 (None) or 2 (a STRING);
 *   DOUBLE     8 bytes, little-endian;  FLOAT 4 bytes, little-endian;
 *   BOOLEAN    one byte, true only if it is 1 (as the Python reads it);
 *   TIMESTAMP  a long of epoch milliseconds, as an aware datetime in datetime.UTC; outside
 *              datetime's years 1 to 9999, `arg(millis)` is called, which raises as Python does;
 *   READER     `arg(data, pos)`, a reader of avro_codec returning `(value, pos after it)`: every
 *              other kind of field (nested records, arrays, maps, unions, enums, bytes, Decimal,
 *              Date, Time, INT8, INT16).
 *
 * Failure, with nothing returned: data that ends early is an IndexError, a varint longer than
 * 64 bits or a union branch out of range a ValueError, and whatever a READER or TIMESTAMP arg
 * raises passes on; the caller turns them into DataErrors. Every read is checked against the
 * data's length first, so no body, however malformed, is read past its end. A program that is
 * not of the shape above is a TypeError. The data is an immutable bytes object, held while it is
 * read, so a READER cannot change what the C reads.
 *
 * `write_record(program, value)` is the other way: the body of a Struct, as the generated Python
 * encoder of avro_codec writes it. Its program is `(struct_type, schema, fallback, ops)`; a value
 * that is not exactly a `struct_type` with exactly `schema` is handed to `fallback(value)`, the
 * Python encoder (which accepts a struct of the same shape or raises). Each op is
 * `(code, prefix, low, high, field)`: the fast cases below are written by the C, `prefix` (the
 * union branch of an optional field, or b"") first; any other value of the field (None, another
 * type, an int out of `low..high`, a str that is not valid UTF-8) is `field(value)`, the Python
 * encoder of that field, which writes it or raises the error naming the field:
 *
 *   LONG       an exact int within low..high, as a zig-zag varint;
 *   STRING     an exact str, as its length and UTF-8 bytes;
 *   DOUBLE     an exact float, 8 bytes little-endian;
 *   BOOLEAN    True or False (required fields only, no prefix), one byte;
 *   TIMESTAMP  an exact datetime whose tzinfo is datetime.UTC, as its epoch milliseconds
 *              (floored), a zig-zag varint;
 *   FIELD      always `field(value)`.
 *
 * Built for CPython 3.11 to 3.13 (hatch_build.py); elsewhere the Python reader and encoder are
 * used.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030E0000
#error "kconnect.data._avroc is written for CPython 3.11 to 3.13"
#endif

enum { LONG, STRING, OPT_STRING, DOUBLE, FLOAT, BOOLEAN, TIMESTAMP, READER, N_OPS };
/* The write codes that are not read codes. */
enum { FIELD = N_OPS, N_WRITE_OPS };

/* datetime's range in epoch milliseconds: 0001-01-01T00:00:00 to 9999-12-31T23:59:59.999. */
#define MIN_MILLIS (-62135596800000LL)
#define MAX_MILLIS (253402300799999LL)
#define DAY_MILLIS 86400000LL

static PyObject *str_schema;
static PyObject *str_values;

static int
ends_early(void)
{
    PyErr_SetString(PyExc_IndexError, "the data ends early");
    return -1;
}

/* The zig-zag varint at *pos, as the Python's read_long reads it. */
static int
read_long(const unsigned char *b, Py_ssize_t len, Py_ssize_t *pos, int64_t *out)
{
    Py_ssize_t p = *pos;
    uint64_t n = 0;
    for (int k = 0; k < 10; k++) {
        if (p >= len)
            return ends_early();
        unsigned int x = b[p++];
        if (k == 9) {
            if (x > 1) {
                PyErr_SetString(PyExc_ValueError,
                                "malformed Avro data: a varint longer than 64 bits");
                return -1;
            }
            n |= (uint64_t)x << 63;
            break;
        }
        n |= (uint64_t)(x & 0x7F) << (7 * k);
        if (x < 0x80)
            break;
    }
    *pos = p;
    *out = (int64_t)(n >> 1) ^ -(int64_t)(n & 1);
    return 0;
}

static PyObject *
read_string(const unsigned char *b, Py_ssize_t len, Py_ssize_t *pos)
{
    int64_t n;
    if (read_long(b, len, pos, &n) < 0)
        return NULL;
    if (n < 0 || n > (int64_t)(len - *pos)) {
        ends_early();
        return NULL;
    }
    PyObject *text = PyUnicode_DecodeUTF8((const char *)b + *pos, (Py_ssize_t)n, "replace");
    if (text != NULL)
        *pos += (Py_ssize_t)n;
    return text;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's civil_from_days). */
static void
civil_from_days(int64_t z, int *year, int *month, int *day)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
}

static PyObject *
read_timestamp(const unsigned char *b, Py_ssize_t len, Py_ssize_t *pos, PyObject *outside)
{
    int64_t ms;
    if (read_long(b, len, pos, &ms) < 0)
        return NULL;
    if (ms < MIN_MILLIS || ms > MAX_MILLIS) {
        PyObject *n = PyLong_FromLongLong(ms);
        if (n == NULL)
            return NULL;
        PyObject *value = PyObject_CallOneArg(outside, n);
        Py_DECREF(n);
        return value;
    }
    int64_t days = ms / DAY_MILLIS;
    int64_t rest = ms % DAY_MILLIS;
    if (rest < 0) {
        rest += DAY_MILLIS;
        days -= 1;
    }
    int year, month, day;
    civil_from_days(days, &year, &month, &day);
    int second_of_day = (int)(rest / 1000);
    return PyDateTimeAPI->DateTime_FromDateAndTime(
        year, month, day, second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60,
        (int)(rest % 1000) * 1000, PyDateTime_TimeZone_UTC, PyDateTimeAPI->DateTimeType);
}

/* `reader(data, pos)`, which must return (value, pos after it) within the data. */
static PyObject *
call_reader(PyObject *reader, PyObject *data, Py_ssize_t len, Py_ssize_t *pos)
{
    PyObject *start = PyLong_FromSsize_t(*pos);
    if (start == NULL)
        return NULL;
    PyObject *args[2] = {data, start};
    PyObject *result = PyObject_Vectorcall(reader, args, 2, NULL);
    Py_DECREF(start);
    if (result == NULL)
        return NULL;
    if (!PyTuple_CheckExact(result) || PyTuple_GET_SIZE(result) != 2
        || !PyLong_CheckExact(PyTuple_GET_ITEM(result, 1))) {
        PyErr_Format(PyExc_TypeError, "a field reader must return (value, position), not %.200s",
                     Py_TYPE(result)->tp_name);
        Py_DECREF(result);
        return NULL;
    }
    Py_ssize_t after = PyLong_AsSsize_t(PyTuple_GET_ITEM(result, 1));
    if (after == -1 && PyErr_Occurred()) {
        Py_DECREF(result);
        return NULL;
    }
    if (after < *pos || after > len) {
        Py_DECREF(result);
        ends_early();
        return NULL;
    }
    PyObject *value = Py_NewRef(PyTuple_GET_ITEM(result, 0));
    Py_DECREF(result);
    *pos = after;
    return value;
}

static PyObject *
read_field(int code, PyObject *arg, PyObject *data, const unsigned char *b, Py_ssize_t len,
           Py_ssize_t *pos)
{
    int64_t n;
    switch (code) {
    case LONG:
        if (read_long(b, len, pos, &n) < 0)
            return NULL;
        return PyLong_FromLongLong(n);
    case STRING:
        return read_string(b, len, pos);
    case OPT_STRING: {
        if (*pos >= len) {
            ends_early();
            return NULL;
        }
        unsigned int branch = b[(*pos)++];
        if (branch == 0)
            Py_RETURN_NONE;
        if (branch == 2)
            return read_string(b, len, pos);
        PyErr_Format(PyExc_ValueError, "union index %u out of range", branch);
        return NULL;
    }
    case DOUBLE:
    case FLOAT: {
        Py_ssize_t size = code == DOUBLE ? 8 : 4;
        if (len - *pos < size) {
            ends_early();
            return NULL;
        }
        const char *at = (const char *)b + *pos;
        double x = code == DOUBLE ? PyFloat_Unpack8(at, 1) : PyFloat_Unpack4(at, 1);
        if (x == -1.0 && PyErr_Occurred())
            return NULL;
        *pos += size;
        return PyFloat_FromDouble(x);
    }
    case BOOLEAN:
        if (*pos >= len) {
            ends_early();
            return NULL;
        }
        return PyBool_FromLong(b[(*pos)++] == 1);
    case TIMESTAMP:
        return read_timestamp(b, len, pos, arg);
    case READER:
        return call_reader(arg, data, len, pos);
    }
    PyErr_Format(PyExc_TypeError, "unknown field code %d", code);
    return NULL;
}

/* The program's parts, checked: (type, schema, tuple of (int, object)). */
static int
unpack_program(PyObject *program, PyTypeObject **type, PyObject **schema, PyObject **ops)
{
    if (!PyTuple_CheckExact(program) || PyTuple_GET_SIZE(program) != 3
        || !PyType_Check(PyTuple_GET_ITEM(program, 0))
        || !PyTuple_CheckExact(PyTuple_GET_ITEM(program, 2))) {
        PyErr_SetString(PyExc_TypeError, "a record program is (struct type, schema, ops)");
        return -1;
    }
    *type = (PyTypeObject *)PyTuple_GET_ITEM(program, 0);
    *schema = PyTuple_GET_ITEM(program, 1);
    *ops = PyTuple_GET_ITEM(program, 2);
    return 0;
}

static PyObject *
read_values(PyObject *ops, PyObject *data, Py_ssize_t *pos)
{
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    Py_ssize_t count = PyTuple_GET_SIZE(ops);
    PyObject *values = PyList_New(count);
    if (values == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *op = PyTuple_GET_ITEM(ops, i);
        if (!PyTuple_CheckExact(op) || PyTuple_GET_SIZE(op) != 2
            || !PyLong_CheckExact(PyTuple_GET_ITEM(op, 0))) {
            PyErr_SetString(PyExc_TypeError, "a record program's op is (code, arg)");
            goto fail;
        }
        long code = PyLong_AsLong(PyTuple_GET_ITEM(op, 0));
        if (code < 0 || code >= N_OPS) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "unknown field code %ld", code);
            goto fail;
        }
        PyObject *arg = PyTuple_GET_ITEM(op, 1);
        if ((code == READER || code == TIMESTAMP) && !PyCallable_Check(arg)) {
            PyErr_SetString(PyExc_TypeError, "a record program's reader must be callable");
            goto fail;
        }
        PyObject *value = read_field((int)code, arg, data, b, len, pos);
        if (value == NULL)
            goto fail;
        PyList_SET_ITEM(values, i, value);
    }
    return values;
fail:
    Py_DECREF(values);
    return NULL;
}

PyDoc_STRVAR(read_record_doc,
"read_record(program, data, pos, /) -> (struct, pos)\n\n"
"The record at `pos` in the bytes `data`, read as `program` says; see the module's doc.");

static PyObject *
read_record(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "read_record() takes 3 positional arguments (%zd given)",
                     nargs);
        return NULL;
    }
    PyTypeObject *type;
    PyObject *schema, *ops;
    if (unpack_program(args[0], &type, &schema, &ops) < 0)
        return NULL;
    PyObject *data = args[1];
    if (!PyBytes_CheckExact(data)) {
        PyErr_Format(PyExc_TypeError, "read_record() reads bytes, not %.200s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[2]);
    if (pos == -1 && PyErr_Occurred())
        return NULL;
    if (pos < 0 || pos > PyBytes_GET_SIZE(data)) {
        ends_early();
        return NULL;
    }
    if (Py_EnterRecursiveCall(" while reading an Avro record"))
        return NULL;
    /* The program and the data stay alive while a READER runs Python code. */
    Py_INCREF(args[0]);
    Py_INCREF(data);
    PyObject *values = read_values(ops, data, &pos);
    PyObject *result = NULL;
    if (values != NULL) {
        PyObject *record = type->tp_alloc(type, 0);
        if (record != NULL && PyObject_SetAttr(record, str_schema, schema) == 0
            && PyObject_SetAttr(record, str_values, values) == 0)
            result = Py_BuildValue("(Nn)", Py_NewRef(record), pos);
        Py_XDECREF(record);
        Py_DECREF(values);
    }
    Py_DECREF(data);
    Py_DECREF(args[0]);
    Py_LeaveRecursiveCall();
    return result;
}

/* --- writing ------------------------------------------------------------------------------ */

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buffer;

static int
buffer_reserve(Buffer *buf, Py_ssize_t more)
{
    if (buf->cap - buf->len >= more)
        return 0;
    Py_ssize_t cap = buf->cap ? buf->cap : 64;
    while (cap - buf->len < more) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *data = PyMem_Realloc(buf->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    buf->data = data;
    buf->cap = cap;
    return 0;
}

static int
buffer_write(Buffer *buf, const char *bytes, Py_ssize_t n)
{
    if (buffer_reserve(buf, n) < 0)
        return -1;
    memcpy(buf->data + buf->len, bytes, (size_t)n);
    buf->len += n;
    return 0;
}

static int
write_long(Buffer *buf, int64_t n)
{
    uint64_t z = ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
    char bytes[10];
    Py_ssize_t k = 0;
    while (z >= 0x80) {
        bytes[k++] = (char)((z & 0x7F) | 0x80);
        z >>= 7;
    }
    bytes[k++] = (char)z;
    return buffer_write(buf, bytes, k);
}

/* Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* `field(value)`, which must return bytes, appended. */
static int
write_by_field(Buffer *buf, PyObject *field, PyObject *value)
{
    PyObject *bytes = PyObject_CallOneArg(field, value);
    if (bytes == NULL)
        return -1;
    if (!PyBytes_Check(bytes)) {
        PyErr_Format(PyExc_TypeError, "a field encoder must return bytes, not %.200s",
                     Py_TYPE(bytes)->tp_name);
        Py_DECREF(bytes);
        return -1;
    }
    int rc = buffer_write(buf, PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes));
    Py_DECREF(bytes);
    return rc;
}

/* 1 if the fast case wrote `value`, 0 if it is not one (nothing written), -1 on error. */
static int
write_fast(Buffer *buf, long code, PyObject *prefix, PyObject *low, PyObject *high,
           PyObject *value)
{
    switch (code) {
    case LONG: {
        if (!PyLong_CheckExact(value))
            return 0;
        int overflow = 0;
        long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (n == -1 && PyErr_Occurred())
            return -1;
        long long lo = PyLong_AsLongLong(low), hi = PyLong_AsLongLong(high);
        if ((lo == -1 || hi == -1) && PyErr_Occurred())
            return -1;
        if (overflow != 0 || n < lo || n > hi)
            return 0;
        if (buffer_write(buf, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix)) < 0)
            return -1;
        return write_long(buf, n) < 0 ? -1 : 1;
    }
    case STRING: {
        if (!PyUnicode_CheckExact(value))
            return 0;
        Py_ssize_t size;
        const char *utf8 = PyUnicode_AsUTF8AndSize(value, &size);
        if (utf8 == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
                return -1;
            PyErr_Clear(); /* a lone surrogate: the field's encoder says what is wrong */
            return 0;
        }
        if (buffer_write(buf, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix)) < 0
            || write_long(buf, (int64_t)size) < 0 || buffer_write(buf, utf8, size) < 0)
            return -1;
        return 1;
    }
    case DOUBLE: {
        if (!PyFloat_CheckExact(value))
            return 0;
        char bytes[8];
        if (PyFloat_Pack8(PyFloat_AS_DOUBLE(value), bytes, 1) < 0)
            return -1;
        if (buffer_write(buf, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix)) < 0
            || buffer_write(buf, bytes, 8) < 0)
            return -1;
        return 1;
    }
    case BOOLEAN:
        if (value != Py_True && value != Py_False)
            return 0;
        return buffer_write(buf, value == Py_True ? "\x01" : "\x00", 1) < 0 ? -1 : 1;
    case TIMESTAMP: {
        if (!PyDateTime_CheckExact(value)
            || PyDateTime_DATE_GET_TZINFO(value) != PyDateTime_TimeZone_UTC)
            return 0;
        int64_t days = days_from_civil(PyDateTime_GET_YEAR(value), PyDateTime_GET_MONTH(value),
                                       PyDateTime_GET_DAY(value));
        int64_t seconds = days * 86400 + PyDateTime_DATE_GET_HOUR(value) * 3600
                          + PyDateTime_DATE_GET_MINUTE(value) * 60
                          + PyDateTime_DATE_GET_SECOND(value);
        int64_t ms = seconds * 1000 + PyDateTime_DATE_GET_MICROSECOND(value) / 1000;
        if (buffer_write(buf, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix)) < 0)
            return -1;
        return write_long(buf, ms) < 0 ? -1 : 1;
    }
    }
    return 0; /* FIELD */
}

static int
write_values(Buffer *buf, PyObject *ops, PyObject *values)
{
    /* The list's length is read again at each step: a field encoder may run any code. */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(ops); i++) {
        if (i >= PyList_GET_SIZE(values)) {
            PyErr_SetString(PyExc_TypeError, "a Struct's values do not match its schema's fields");
            return -1;
        }
        PyObject *op = PyTuple_GET_ITEM(ops, i);
        if (!PyTuple_CheckExact(op) || PyTuple_GET_SIZE(op) != 5
            || !PyLong_CheckExact(PyTuple_GET_ITEM(op, 0))
            || !PyBytes_CheckExact(PyTuple_GET_ITEM(op, 1))
            || !PyLong_CheckExact(PyTuple_GET_ITEM(op, 2))
            || !PyLong_CheckExact(PyTuple_GET_ITEM(op, 3))
            || !PyCallable_Check(PyTuple_GET_ITEM(op, 4))) {
            PyErr_SetString(PyExc_TypeError,
                            "a write program's op is (code, prefix, low, high, field)");
            return -1;
        }
        long code = PyLong_AsLong(PyTuple_GET_ITEM(op, 0));
        if (code == -1 && PyErr_Occurred())
            return -1;
        PyObject *value = PyList_GET_ITEM(values, i);
        Py_INCREF(value);
        int written = write_fast(buf, code, PyTuple_GET_ITEM(op, 1), PyTuple_GET_ITEM(op, 2),
                                 PyTuple_GET_ITEM(op, 3), value);
        if (written == 0)
            written = write_by_field(buf, PyTuple_GET_ITEM(op, 4), value) < 0 ? -1 : 1;
        Py_DECREF(value);
        if (written < 0)
            return -1;
    }
    if (PyList_GET_SIZE(values) != PyTuple_GET_SIZE(ops)) {
        PyErr_SetString(PyExc_TypeError, "a Struct's values do not match its schema's fields");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(write_record_doc,
"write_record(program, value, /) -> bytes\n\n"
"The Avro body of the Struct `value`, written as `program` says; see the module's doc.");

static PyObject *
write_record(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "write_record() takes 2 positional arguments (%zd given)",
                     nargs);
        return NULL;
    }
    PyObject *program = args[0], *value = args[1];
    if (!PyTuple_CheckExact(program) || PyTuple_GET_SIZE(program) != 4
        || !PyType_Check(PyTuple_GET_ITEM(program, 0))
        || !PyCallable_Check(PyTuple_GET_ITEM(program, 2))
        || !PyTuple_CheckExact(PyTuple_GET_ITEM(program, 3))) {
        PyErr_SetString(PyExc_TypeError,
                        "a write program is (struct type, schema, fallback, ops)");
        return NULL;
    }
    PyObject *fallback = PyTuple_GET_ITEM(program, 2);
    if (!Py_IS_TYPE(value, (PyTypeObject *)PyTuple_GET_ITEM(program, 0)))
        return PyObject_CallOneArg(fallback, value);
    PyObject *schema = PyObject_GetAttr(value, str_schema);
    if (schema == NULL)
        return NULL;
    int same = schema == PyTuple_GET_ITEM(program, 1);
    Py_DECREF(schema);
    if (!same)
        return PyObject_CallOneArg(fallback, value);
    PyObject *values = PyObject_GetAttr(value, str_values);
    if (values == NULL)
        return NULL;
    if (!PyList_CheckExact(values)) {
        Py_DECREF(values);
        return PyObject_CallOneArg(fallback, value);
    }
    if (Py_EnterRecursiveCall(" while writing an Avro record")) {
        Py_DECREF(values);
        return NULL;
    }
    Py_INCREF(program); /* alive while a field encoder runs Python code */
    Buffer buf = {NULL, 0, 0};
    PyObject *result = NULL;
    if (write_values(&buf, PyTuple_GET_ITEM(program, 3), values) == 0)
        result = PyBytes_FromStringAndSize(buf.data ? buf.data : "", buf.len);
    PyMem_Free(buf.data);
    Py_DECREF(program);
    Py_DECREF(values);
    Py_LeaveRecursiveCall();
    return result;
}

static PyMethodDef methods[] = {
    {"write_record", (PyCFunction)(void (*)(void))write_record, METH_FASTCALL, write_record_doc},
    {"read_record", (PyCFunction)(void (*)(void))read_record, METH_FASTCALL, read_record_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "kconnect.data._avroc",
    .m_doc = "The Avro record reader of kconnect.data.avro_codec; see its source's header.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__avroc(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return NULL;
    if (str_schema == NULL) {
        str_schema = PyUnicode_InternFromString("schema");
        str_values = PyUnicode_InternFromString("_values");
        if (str_schema == NULL || str_values == NULL)
            return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    static const struct {
        const char *name;
        int code;
    } codes[] = {{"LONG", LONG},       {"STRING", STRING},       {"OPT_STRING", OPT_STRING},
                 {"DOUBLE", DOUBLE},   {"FLOAT", FLOAT},         {"BOOLEAN", BOOLEAN},
                 {"TIMESTAMP", TIMESTAMP}, {"READER", READER},     {"FIELD", FIELD}};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (PyModule_AddIntConstant(module, codes[i].name, codes[i].code) < 0) {
            Py_DECREF(module);
            return NULL;
        }
    }
    return module;
}

/* The common case of a Tensor op made in C: torch's function on the Tensors' data, one new Tensor.
 *
 * `FastOp(fn, fallback, cls, arity)` is a callable used as a method of `cls` (pyeddl's Tensor).
 * Called with `arity` positional arguments that are all exactly `cls`, it calls `fn` on their
 * torch tensors (the `torch` slot) and returns a new `cls` holding the result, without a Python
 * frame. Any other call (numbers, numpy arrays, subclasses, keywords), and any call where `fn`
 * raises, goes to `fallback`, the Python function with the op's full behaviour and its error
 * messages: the C path never decides what an error says. The op must not change its arguments
 * (new-tensor ops only), since a call that failed in C is made again by the fallback.
 *
 * Why: on small tensors torch's own call takes ~1.8 us and a Python wrapper adds ~0.25 us (a
 * frame, the type tests, making the result), which is 0.86-0.88x of torch; in C it adds ~0.05 us
 * (bench/bench_tensor.py). Without a C compiler the package works the same without it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "structmember.h"

#define MAX_ARITY 3

typedef struct {
    PyObject_HEAD
    PyObject *fn;        /* torch's function: torch tensors in, a torch tensor out */
    PyObject *fallback;  /* the Python function with the op's whole behaviour */
    PyTypeObject *cls;   /* the Tensor class (exact type matched) */
    Py_ssize_t offset;   /* offset of cls's `torch` slot in its instances */
    Py_ssize_t arity;    /* number of positional Tensor arguments of the fast path */
    vectorcallfunc vectorcall;
} FastOp;

static PyObject *
fastop_vectorcall(FastOp *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs == self->arity && kwnames == NULL) {
        PyObject *inner[MAX_ARITY];
        Py_ssize_t i;
        for (i = 0; i < nargs; i++) {
            if (Py_TYPE(args[i]) != self->cls)
                break;
            inner[i] = *(PyObject **)((char *)args[i] + self->offset);
            if (inner[i] == NULL)
                break;
        }
        if (i == nargs) {
            PyObject *result = PyObject_Vectorcall(self->fn, inner, nargs, NULL);
            if (result != NULL) {
                PyObject *out = self->cls->tp_alloc(self->cls, 0);
                if (out == NULL) {
                    Py_DECREF(result);
                    return NULL;
                }
                *(PyObject **)((char *)out + self->offset) = result; /* steals the reference */
                return out;
            }
            PyErr_Clear(); /* the fallback raises the error, worded for pyeddl's users */
        }
    }
    return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
}

static PyObject *
fastop_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"fn", "fallback", "cls", "arity", NULL};
    PyObject *fn, *fallback, *cls;
    Py_ssize_t arity;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO!n:FastOp", kwlist, &fn, &fallback,
                                     &PyType_Type, &cls, &arity))
        return NULL;
    if (!PyCallable_Check(fn) || !PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "FastOp: fn and fallback must be callable");
        return NULL;
    }
    if (arity < 1 || arity > MAX_ARITY) {
        PyErr_Format(PyExc_ValueError, "FastOp: arity must be 1 to %d, got %zd", MAX_ARITY, arity);
        return NULL;
    }
    /* the `torch` slot: a member descriptor holding an object, defined by cls itself */
    PyObject *descr = PyDict_GetItemString(((PyTypeObject *)cls)->tp_dict, "torch");
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
        ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "FastOp: class %s has no __slots__ entry 'torch'",
                     ((PyTypeObject *)cls)->tp_name);
        return NULL;
    }
    FastOp *self = (FastOp *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    Py_INCREF(fn);
    Py_INCREF(fallback);
    Py_INCREF(cls);
    self->fn = fn;
    self->fallback = fallback;
    self->cls = (PyTypeObject *)cls;
    self->offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    self->arity = arity;
    self->vectorcall = (vectorcallfunc)fastop_vectorcall;
    return (PyObject *)self;
}

static int
fastop_traverse(FastOp *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fn);
    Py_VISIT(self->fallback);
    Py_VISIT(self->cls);
    return 0;
}

static int
fastop_clear(FastOp *self)
{
    Py_CLEAR(self->fn);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->cls);
    return 0;
}

static void
fastop_dealloc(FastOp *self)
{
    PyObject_GC_UnTrack(self);
    fastop_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* As a function in a class body: `t.op` is bound to `t`, `Tensor.op` is the op itself. */
static PyObject *
fastop_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    if (obj == NULL || obj == Py_None) {
        Py_INCREF(self);
        return self;
    }
    return PyMethod_New(self, obj);
}

static PyObject *
fastop_repr(FastOp *self)
{
    return PyUnicode_FromFormat("<FastOp %R (C path of %R)>", self->fn, self->fallback);
}

/* The fallback's name and docs, so that help(), inspect.signature (through __wrapped__) and the
   API checks see the op as the Python function it stands for. */
static PyObject *
fastop_get_attr_of_fallback(FastOp *self, void *name)
{
    return PyObject_GetAttrString(self->fallback, (const char *)name);
}

static PyGetSetDef fastop_getset[] = {
    {"__doc__", (getter)fastop_get_attr_of_fallback, NULL, NULL, "__doc__"},
    {"__name__", (getter)fastop_get_attr_of_fallback, NULL, NULL, "__name__"},
    {"__qualname__", (getter)fastop_get_attr_of_fallback, NULL, NULL, "__qualname__"},
    {"__module__", (getter)fastop_get_attr_of_fallback, NULL, NULL, "__module__"},
    {NULL}
};

static PyMemberDef fastop_members[] = {
    {"__wrapped__", T_OBJECT, offsetof(FastOp, fallback), READONLY,
     "the Python function with the op's whole behaviour"},
    {"fn", T_OBJECT, offsetof(FastOp, fn), READONLY, "torch's function of the fast path"},
    {"arity", T_PYSSIZET, offsetof(FastOp, arity), READONLY, "Tensor arguments of the fast path"},
    {NULL}
};

static PyTypeObject FastOpType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "deephealth.eddl.tensor._fastcall.FastOp",
    .tp_doc = PyDoc_STR("FastOp(fn, fallback, cls, arity): fn on the torch data of `arity` "
                        "exact `cls` instances, as a new `cls`; anything else goes to fallback."),
    .tp_basicsize = sizeof(FastOp),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_new = fastop_new,
    .tp_traverse = (traverseproc)fastop_traverse,
    .tp_clear = (inquiry)fastop_clear,
    .tp_dealloc = (destructor)fastop_dealloc,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(FastOp, vectorcall),
    .tp_descr_get = fastop_descr_get,
    .tp_repr = (reprfunc)fastop_repr,
    .tp_getset = fastop_getset,
    .tp_members = fastop_members,
};

static struct PyModuleDef fastcall_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "deephealth.eddl.tensor._fastcall",
    .m_doc = "Tensor ops on Tensors made in C (see FastOp); optional, the package works without it.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__fastcall(void)
{
    if (PyType_Ready(&FastOpType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&fastcall_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&FastOpType);
    if (PyModule_AddObject(m, "FastOp", (PyObject *)&FastOpType) < 0) {
        Py_DECREF(&FastOpType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

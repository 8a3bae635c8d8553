/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pyembed.c - CPython as a shared library: this main() hands its arguments
 * to Py_BytesMain() of Debian 12's libpython3.11.so.1.0, so that the
 * interpreter's code and data (pymalloc's state, PyType_Type, Py_Version)
 * live in a mapped libpython, not in the executable, and the symbols are
 * those of its .dynsym. test_python_heap runs tests/targets/pyheap.py on
 * it like on /usr/bin/python3.
 *
 * Py_BytesMain() (CPython's Include/pylifecycle.h, since 3.8, stable ABI)
 * is declared here rather than taken from the CPython headers: the
 * runtime package alone is enough to build this (Makefile.am links
 * -l:libpython3.11.so.1.0).
 */
int Py_BytesMain(int argc, char **argv);

int
main(int argc, char **argv)
{
	return Py_BytesMain(argc, argv);
}

dnl LA_SANITIZERS: --enable-sanitizers builds the tool, the library and the
dnl test drivers with ASan and UBSan. They go into SANITIZER_CFLAGS, never
dnl into CFLAGS: test targets must keep glibc's malloc, which ASan replaces.
AC_DEFUN([LA_SANITIZERS], [
	AC_ARG_ENABLE([sanitizers],
		[AS_HELP_STRING([--enable-sanitizers],
			[build the tool and tests with ASan+UBSan (never the targets)])],
		[], [enable_sanitizers=no])
	SANITIZER_CFLAGS=
	SANITIZER_LDFLAGS=
	AS_IF([test "x$enable_sanitizers" = xyes], [
		la_san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
		la_save_CFLAGS=$CFLAGS
		la_save_LDFLAGS=$LDFLAGS
		CFLAGS="$CFLAGS $la_san"
		LDFLAGS="$LDFLAGS $la_san"
		AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])], [],
			[AC_MSG_ERROR([the compiler cannot build with $la_san])])
		CFLAGS=$la_save_CFLAGS
		LDFLAGS=$la_save_LDFLAGS
		SANITIZER_CFLAGS="$la_san"
		SANITIZER_LDFLAGS="$la_san"
	])
	AC_SUBST([SANITIZER_CFLAGS])
	AC_SUBST([SANITIZER_LDFLAGS])
	AM_CONDITIONAL([SANITIZERS], [test "x$enable_sanitizers" = xyes])
])

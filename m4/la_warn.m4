dnl LA_WARN_CFLAGS: every warning the compiler accepts from one list, in
dnl WARN_CFLAGS; --enable-werror adds -Werror.
AC_DEFUN([LA_WARN_CFLAGS], [
	WARN_CFLAGS=
	AC_LANG_PUSH([C])
	for la_flag in -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
		-Wmissing-prototypes -Wold-style-definition \
		-Wimplicit-fallthrough=5 -Wundef -Wwrite-strings \
		-Wlogical-op -Wduplicated-cond -Wvla -Wpointer-arith \
		-Wno-missing-field-initializers; do
		la_save_CFLAGS=$CFLAGS
		CFLAGS="$CFLAGS -Werror $la_flag"
		AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
			[WARN_CFLAGS="$WARN_CFLAGS $la_flag"])
		CFLAGS=$la_save_CFLAGS
	done
	AC_LANG_POP([C])
	AC_ARG_ENABLE([werror],
		[AS_HELP_STRING([--enable-werror], [turn warnings into errors])],
		[AS_IF([test "x$enableval" = xyes],
			[WARN_CFLAGS="$WARN_CFLAGS -Werror"])])
	AC_SUBST([WARN_CFLAGS])
])

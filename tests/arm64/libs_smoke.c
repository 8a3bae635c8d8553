/*
 * libs_smoke - the arm64 sysroot's libraries, linked and run in the guest:
 * a Criterion test that opens its own executable with libelf (an aarch64
 * ELF) and walks its DWARF compilation units with libdwarf. Checks the
 * cross-build (aarch64-linux-gnu-gcc --sysroot=...) and Criterion's needs
 * in the guest (a tmpfs on /dev/shm), not leakattach.
 *
 * Build with -g: the test expects at least one compilation unit.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <gelf.h>
#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>
#include <libelf.h>
#include <unistd.h>

Test(arm64_guest, libelf_reads_its_own_aarch64_executable)
{
	GElf_Ehdr ehdr;
	Elf *elf;
	int fd;

	cr_assert_neq(elf_version(EV_CURRENT), EV_NONE);
	fd = open("/proc/self/exe", O_RDONLY);
	cr_assert_geq(fd, 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	cr_assert_not_null(elf, "elf_begin: %s", elf_errmsg(-1));
	cr_assert_not_null(gelf_getehdr(elf, &ehdr));
	cr_expect_eq(ehdr.e_machine, EM_AARCH64);
	cr_expect_eq(ehdr.e_ident[EI_CLASS], ELFCLASS64);
	elf_end(elf);
	close(fd);
}

Test(arm64_guest, libdwarf_walks_its_own_compilation_units)
{
	Dwarf_Debug dbg = NULL;
	Dwarf_Error err = NULL;
	Dwarf_Unsigned next = 0;
	Dwarf_Half cu_type = 0;
	unsigned cus = 0;
	int res;

	res = dwarf_init_path("/proc/self/exe", NULL, 0, DW_DLC_READ,
			      DW_GROUPNUMBER_ANY, NULL, NULL, &dbg, NULL, 0,
			      NULL, &err);
	cr_assert_eq(res, DW_DLV_OK, "dwarf_init_path: %s",
		     res == DW_DLV_ERROR ? dwarf_errmsg(err) : "no DWARF");
	while (cus < 1000 &&
	       dwarf_next_cu_header_d(dbg, 1, NULL, NULL, NULL, NULL, NULL,
				      NULL, NULL, NULL, &next, &cu_type,
				      NULL) == DW_DLV_OK)
		cus++;
	cr_expect_geq(cus, 1);
	dwarf_finish(dbg, NULL);
}

"""Reports: tables, JSON, plots and ELF size/symbol reading (report.elf)."""

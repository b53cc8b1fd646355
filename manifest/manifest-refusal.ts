/**
 * Why a manifest is refused as a whole. Customs must not act on half a
 * manifest, so a file the reader cannot read is refused before any of it is
 * screened, with the line (or spreadsheet row) and what to fix: the CLI
 * prints it, the console shows it next to the upload.
 */
import { Code, ImeifedError } from "../errors/index.js";

export class ManifestRefusal extends ImeifedError {
  constructor(
    /** The manifest's file name, as the user gave or uploaded it. */
    readonly fileName: string,
    /** The 1-based line of a CSV or row of a sheet; undefined when the problem is the file as a whole. */
    readonly line: number | undefined,
    /** What is wrong and what to do, without the file name or line. */
    readonly problem: string,
  ) {
    super(Code.INVALID_ARGUMENT, "BAD_MANIFEST", `${fileName}: ${line === undefined ? "" : `line ${line}: `}${problem}`);
  }
}

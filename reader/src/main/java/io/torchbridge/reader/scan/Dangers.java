package io.torchbridge.reader.scan;

import java.util.LinkedHashMap;
import java.util.Map;

/** Globals that run code, touch the system or the network, or unpickle again (picklescan's list, widened). */
final class Dangers {
    private static final Map<String, String> MODULES = new LinkedHashMap<>();
    private static final Map<String, String> NAMES = new LinkedHashMap<>();

    static {
        for (String m : new String[] {"os", "posix", "nt", "subprocess", "pty", "commands", "popen2", "platform"}) {
            MODULES.put(m, "runs system commands");
        }
        for (String m : new String[] {"sys", "runpy", "code", "codeop", "pdb", "bdb", "pydoc", "timeit",
            "ctypes", "importlib", "imp", "_thread", "threading", "multiprocessing", "asyncio", "signal",
            "pip", "venv", "ensurepip", "cProfile", "profile", "trace", "doctest", "idlelib", "distutils",
            "setuptools", "site", "operator", "functools", "types", "inspect", "gc", "marshal", "shelve"}) {
            MODULES.put(m, "reaches code execution or interpreter internals");
        }
        for (String m : new String[] {"socket", "ssl", "http", "httplib", "urllib", "urllib2", "urllib3",
            "requests", "aiohttp", "ftplib", "smtplib", "telnetlib", "webbrowser", "xmlrpc", "nntplib",
            "poplib", "imaplib", "socketserver"}) {
            MODULES.put(m, "opens network connections");
        }
        for (String m : new String[] {"shutil", "tempfile", "glob", "pathlib", "io", "fileinput", "zipfile",
            "tarfile"}) {
            MODULES.put(m, "reads, writes or deletes files");
        }
        for (String m : new String[] {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib"}) {
            MODULES.put(m, "unpickles nested data (a pickle inside a pickle)");
        }
        for (String n : new String[] {"eval", "exec", "execfile", "compile", "__import__", "getattr", "setattr",
            "delattr", "globals", "locals", "vars", "open", "input", "breakpoint", "apply", "memoryview",
            "help", "exit", "quit"}) {
            NAMES.put("builtins." + n, "runs or reaches arbitrary code");
        }
        NAMES.put("torch.load", "loads another checkpoint (a nested, unchecked load)");
        NAMES.put("torch.serialization.load", "loads another checkpoint (a nested, unchecked load)");
        NAMES.put("torch.hub.load", "downloads and runs code");
        NAMES.put("torch.hub.load_state_dict_from_url", "downloads files");
        NAMES.put("torch.storage._load_from_bytes", "unpickles nested data (a pickle inside a pickle)");
        NAMES.put("torch.jit.load", "loads TorchScript code");
        NAMES.put("torch._C._jit_deserialize", "loads TorchScript code");
        NAMES.put("numpy.load", "loads a numpy file with pickles allowed");
        NAMES.put("numpy.testing._private.utils.runstring", "runs code");
        NAMES.put("numpy.core.multiarray._reconstruct", null);
    }

    private Dangers() {
    }

    static String of(String module, String name) {
        String full = module + "." + name;
        if (NAMES.containsKey(full)) {
            return NAMES.get(full);
        }
        String m = module;
        while (true) {
            if (MODULES.containsKey(m)) {
                return MODULES.get(m);
            }
            int dot = m.lastIndexOf('.');
            if (dot < 0) {
                return null;
            }
            m = m.substring(0, dot);
        }
    }
}

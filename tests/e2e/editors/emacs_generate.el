;;; emacs_generate.el --- drive Hearth's Generate in batch Emacs with eglot -*- lexical-binding: t -*-

;; Run by tests/e2e/test_emacs.py as `emacs --batch -Q -l <this>', with the configuration of
;; docs/editors.md (hearth.el).  $HEARTH_E2E names a JSON file:
;; {scenario, config, file, title, cursor, elsewhere?, result, timeout_ms}; `title' is the code
;; action to run.  Scenarios: "menu" (C-c a,
;; i.e. `eglot-code-actions', picking the Hearth entry) and "command" (M-x hearth-generate).
;; Whatever happens, it writes {ok, error, messages, titles, text, timings, ...} to `result'.

(require 'cl-lib)
(require 'json)

(defvar hearth-e2e-job (json-read-file (getenv "HEARTH_E2E")))
(defvar hearth-e2e-out (make-hash-table :test #'equal))
(defvar hearth-e2e-messages nil)

(defun hearth-e2e-job (key)
  (alist-get key hearth-e2e-job))

(defun hearth-e2e-put (key value)
  (puthash key value hearth-e2e-out))

(defun hearth-e2e-record-message (text)
  (when text (push text hearth-e2e-messages))
  text)
(advice-add 'message :filter-return #'hearth-e2e-record-message)

(defun hearth-e2e-wait (what seconds predicate)
  "Process events until PREDICATE holds; return the seconds waited, or fail after SECONDS."
  (let ((start (float-time)))
    (while (not (funcall predicate))
      (when (> (- (float-time) start) seconds)
        (error "Timed out after %s s waiting for %s" seconds what))
      (accept-process-output nil 0.05))
    (- (float-time) start)))

(defun hearth-e2e-goto (needle)
  (goto-char (point-min))
  (search-forward needle)
  (goto-char (match-beginning 0)))

(defun hearth-e2e-titles (actions)
  (vconcat (mapcar (lambda (action) (plist-get action :title)) actions)))

(defun hearth-e2e-load-eglot ()
  "eglot is built in from Emacs 29; Debian's elpa-eglot lives outside -Q's load path."
  (unless (require 'eglot nil t)
    (require 'package)
    (add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
    (package-activate-all)
    (require 'eglot))
  (hearth-e2e-put "eglot" (locate-library "eglot")))

(defun hearth-e2e-menu ()
  "What a person does: C-c a (`eglot-code-actions') and pick the Hearth entry."
  (hearth-e2e-goto (hearth-e2e-job 'elsewhere))
  (hearth-e2e-put "titles_elsewhere" (hearth-e2e-titles (eglot-code-actions (point))))
  (hearth-e2e-goto (hearth-e2e-job 'cursor))
  (let ((start (float-time))
        ;; A key press, not a mouse click: eglot then asks with `completing-read'.
        (last-nonmenu-event ?a))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (let ((titles (all-completions "" collection)))
                   (hearth-e2e-put "titles" (vconcat titles))
                   (or (car (member (hearth-e2e-job 'title) titles))
                       (error "No %S among %S" (hearth-e2e-job 'title) titles))))))
      (call-interactively (key-binding (kbd "C-c a"))))
    (hearth-e2e-put "generate_s" (- (float-time) start))))

(defun hearth-e2e-command ()
  "M-x hearth-generate: the reply comes back asynchronously, the edit as workspace/applyEdit."
  (hearth-e2e-goto (hearth-e2e-job 'cursor))
  (let ((start (float-time))
        (tick (buffer-modified-tick)))
    (hearth-generate nil)
    (hearth-e2e-wait "Hearth's reply" (/ (hearth-e2e-job 'timeout_ms) 1000)
                     (lambda () (cl-some (lambda (m) (string-prefix-p "Hearth: " m))
                                         hearth-e2e-messages)))
    (hearth-e2e-put "generate_s" (- (float-time) start))
    (hearth-e2e-put "edited" (if (/= tick (buffer-modified-tick)) t :json-false))))

(defun hearth-e2e-main ()
  (hearth-e2e-load-eglot)
  (load (hearth-e2e-job 'config) nil t)
  (let ((start (float-time)))
    (find-file (hearth-e2e-job 'file))
    (hearth-e2e-put "mode" (symbol-name major-mode))
    ;; eglot-ensure connects on the first command after the file opens.
    (run-hooks 'post-command-hook)
    (hearth-e2e-wait "eglot to connect" 120
                     (lambda () (and (eglot-current-server) eglot--managed-mode)))
    (hearth-e2e-put "startup_s" (- (float-time) start)))
  (hearth-e2e-put "text_before" (buffer-substring-no-properties (point-min) (point-max)))
  (pcase (hearth-e2e-job 'scenario)
    ("menu" (hearth-e2e-menu))
    ("command" (hearth-e2e-command))
    (other (error "Unknown scenario %S" other)))
  (hearth-e2e-put "text" (buffer-substring-no-properties (point-min) (point-max)))
  (save-buffer)
  (hearth-e2e-put "ok" t))

(let ((ok (condition-case err
              (progn (hearth-e2e-main) t)
            (error (hearth-e2e-put "error" (error-message-string err)) nil))))
  (hearth-e2e-put "messages" (vconcat (reverse hearth-e2e-messages)))
  (hearth-e2e-put "scenario" (hearth-e2e-job 'scenario))
  (hearth-e2e-put "emacs" emacs-version)
  (unless ok (hearth-e2e-put "ok" :json-false))
  (with-temp-file (hearth-e2e-job 'result)
    (let ((json-encoding-pretty-print nil))
      (insert (json-encode hearth-e2e-out))))
  (dolist (server (and (boundp 'eglot--servers-by-project)
                       (apply #'append (hash-table-values eglot--servers-by-project))))
    (ignore-errors (eglot-shutdown server)))
  (kill-emacs (if ok 0 1)))

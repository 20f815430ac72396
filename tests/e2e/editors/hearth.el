;;; Hearth in Emacs 28+ with eglot (built in from Emacs 29; on Debian 12: elpa-eglot).
(require 'eglot)

;; Start `hearth serve` for Python buffers.  initializationOptions carry your settings
;; (the keys of docs/settings.md).
(add-to-list 'eglot-server-programs
             '((python-mode python-ts-mode)
               . ("hearth" "serve" "--stdio"
                  :initializationOptions (:generation (:samples 1)))))
;; The same settings as the answer to the server's workspace/configuration requests
;; (per project: set eglot-workspace-configuration in .dir-locals.el instead).
(setq-default eglot-workspace-configuration '(:hearth (:generation (:samples 1))))
(add-hook 'python-mode-hook #'eglot-ensure)

;; Older eglot (1.9 in Debian 12) does not resolve code actions: Hearth then sends its edit as
;; workspace/applyEdit, which eglot would confirm with a question each time.
(setq eglot-confirm-server-initiated-edits nil)
;; A generation takes seconds, more than jsonrpc's default 10 s wait for an answer.
(setq jsonrpc-default-request-timeout 180)
(define-key eglot-mode-map (kbd "C-c a") #'eglot-code-actions)

(defun hearth--show-result (result)
  "Show RESULT, the reply of a Hearth command: Markdown in a buffer, else a summary."
  (let ((markdown (plist-get result :markdown)))
    (if (not markdown)
        (message "%s (confidence %s, %.1f s)" (or (plist-get result :title) "Hearth: done")
                 (plist-get result :confidence) (or (plist-get result :elapsed_s) 0))
      (with-current-buffer (get-buffer-create "*Hearth*")
        (let ((inhibit-read-only t))
          (erase-buffer)
          (insert markdown))
        (if (fboundp 'gfm-view-mode) (gfm-view-mode) (view-mode 1))
        (display-buffer (current-buffer))))))

(defun hearth--run (name &optional instruction)
  "Run the server command hearth.NAME at point (or on the region) without blocking Emacs."
  (let* ((server (or (eglot-current-server) (user-error "Hearth: eglot is not running here")))
         (argument
          `(:uri ,(plist-get (eglot--TextDocumentIdentifier) :uri)
            :position ,(eglot--pos-to-lsp-position)
            ,@(when (use-region-p)
                `(:range (:start ,(eglot--pos-to-lsp-position (region-beginning))
                          :end ,(eglot--pos-to-lsp-position (region-end)))))
            ,@(when (and instruction (not (string-empty-p instruction)))
                `(:instruction ,instruction)))))
    (eglot--signal-textDocument/didChange) ; the server must see what you just typed
    (jsonrpc-async-request
     server :workspace/executeCommand
     `(:command ,(format "hearth.%s" name) :arguments [,argument])
     :success-fn #'hearth--show-result
     :error-fn (jsonrpc-lambda (&key message &allow-other-keys)
                 (message "Hearth: %s" message))
     :timeout 300)))

(defun hearth-generate (instruction)
  "Implement the function at point; with a prefix argument, ask for an INSTRUCTION."
  (interactive (list (and current-prefix-arg (read-string "Instruction: "))))
  (hearth--run "generate" instruction))

(defun hearth-fix ()
  "Fix the problem at point (or in the region)."
  (interactive)
  (hearth--run "fix"))

(defun hearth-explain ()
  "Explain the code at point (or the region) in a *Hearth* buffer."
  (interactive)
  (hearth--run "explain"))

(defun hearth-generate-tests ()
  "Write tests for the function at point."
  (interactive)
  (hearth--run "generateTests"))
